//! Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH (multi.c). The logic lives in
//! `crate::multi`; queuing happens in `process_command`, which hands these five (plus QUIT and
//! RESET) to `call` even inside MULTI.

use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::Server;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("multi", multi_command),
    ("exec", exec_command),
    ("discard", discard_command),
    ("watch", watch_command),
    ("unwatch", unwatch_command),
];

fn multi_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    crate::multi::multi(c);
}

fn exec_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::multi::exec(srv, c, args);
}

fn discard_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    crate::multi::discard(srv, c);
}

fn watch_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::multi::watch(srv, c, args);
}

fn unwatch_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    crate::multi::unwatch(srv, c);
}
