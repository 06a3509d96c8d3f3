//! `ferrodis-server [configfile] [--option value ...]`: parse the configuration, then serve.

/// Every allocation is counted for INFO used_memory.
#[global_allocator]
static ALLOC: ferrodis::server::alloc::CountingAlloc = ferrodis::server::alloc::CountingAlloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!("{}", ferrodis::server::version_line());
            return;
        }
        Some("-h") | Some("--help") => {
            println!("{}", ferrodis::server::USAGE);
            return;
        }
        _ => {}
    }
    let config = match ferrodis::config::Config::from_args(&args[1..]) {
        Ok(c) => c,
        // An empty message means the reason was already logged.
        Err(msg) if msg.is_empty() => std::process::exit(1),
        Err(msg) => {
            eprint!("{msg}");
            if !msg.ends_with('\n') {
                eprintln!();
            }
            std::process::exit(1);
        }
    };
    std::process::exit(ferrodis::server::start(config));
}
