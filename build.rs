//! Build script: compiles the small C helper that gives ferrodis C's `long double`
//! (src/util/ldouble.c), which Redis's INCRBYFLOAT/HINCRBYFLOAT arithmetic and formatting need
//! and Rust does not have.

fn main() {
    println!("cargo:rerun-if-changed=src/util/ldouble.c");
    cc::Build::new()
        .file("src/util/ldouble.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("ferrodis_ldouble");
}
