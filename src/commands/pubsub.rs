//! Pub/Sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH SSUBSCRIBE
//! SUNSUBSCRIBE SPUBLISH and PUBSUB (pubsub.c). Registries and delivery live in
//! `crate::pubsub`; the RESP2 subscribed-client gate is in `process_command`.

use super::connection::{reply_help, subcommand_syntax_error};
use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::Server;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("subscribe", subscribe_command),
    ("unsubscribe", unsubscribe_command),
    ("psubscribe", psubscribe_command),
    ("punsubscribe", punsubscribe_command),
    ("ssubscribe", ssubscribe_command),
    ("sunsubscribe", sunsubscribe_command),
    ("publish", publish_command),
    ("spublish", spublish_command),
    ("pubsub|channels", pubsub_channels_command),
    ("pubsub|numsub", pubsub_numsub_command),
    ("pubsub|numpat", pubsub_numpat_command),
    ("pubsub|shardchannels", pubsub_shardchannels_command),
    ("pubsub|shardnumsub", pubsub_shardnumsub_command),
    ("pubsub|help", pubsub_help_command),
];

fn subscribe_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::subscribe(srv, c, args);
}

fn unsubscribe_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::unsubscribe(srv, c, args);
}

fn psubscribe_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::psubscribe(srv, c, args);
}

fn punsubscribe_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::punsubscribe(srv, c, args);
}

fn ssubscribe_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::ssubscribe(srv, c, args);
}

fn sunsubscribe_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::sunsubscribe(srv, c, args);
}

/// PUBLISH channel message: the number of receivers (channel plus pattern subscriptions).
fn publish_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let n = crate::pubsub::publish(srv, args.get(1), args.get(2), false);
    // In cluster mode the message reaches the other nodes' subscribers over the bus.
    if srv.cluster.is_some() {
        crate::cluster::bus::propagate_publish(srv, args.get(1), args.get(2), false);
    }
    c.out.int(n);
}

/// SPUBLISH shardchannel message: shard subscribers only (patterns are not consulted).
fn spublish_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let n = crate::pubsub::publish(srv, args.get(1), args.get(2), true);
    if srv.cluster.is_some() {
        crate::cluster::bus::propagate_publish(srv, args.get(1), args.get(2), true);
    }
    c.out.int(n);
}

fn pubsub_channels_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 {
        return subcommand_syntax_error(c, args);
    }
    let pat = (args.len() == 3).then(|| args.get(2));
    crate::pubsub::channel_list(srv, c, pat, false);
}

fn pubsub_shardchannels_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 {
        return subcommand_syntax_error(c, args);
    }
    let pat = (args.len() == 3).then(|| args.get(2));
    crate::pubsub::channel_list(srv, c, pat, true);
}

fn pubsub_numsub_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::numsub(srv, c, args, false);
}

fn pubsub_shardnumsub_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::pubsub::numsub(srv, c, args, true);
}

fn pubsub_numpat_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(srv.pubsub.pattern_count() as i64);
}

fn pubsub_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}
