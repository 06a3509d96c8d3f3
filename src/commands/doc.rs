//! Static reply trees for the introspection commands (COMMAND INFO, COMMAND DOCS).
//!
//! Redis builds those replies at run time from its command table; we keep the exact tree the
//! oracle sent (generated into `meta.rs`) and only serialise it here. A tree is immutable data
//! in `.rodata`, nothing is allocated to hold it:
//!
//! ```text
//!   Doc::Map(&[(k0, v0), (k1, v1)])          Doc::Array(&[d0, d1, d2])
//!        |                                        |
//!        v  &'static [(Doc, Doc)]                 v  &'static [Doc]
//!   +--------+--------+--------+--------+      +------+------+------+
//!   |   k0   |   v0   |   k1   |   v1   |      |  d0  |  d1  |  d2  |   each cell is one Doc:
//!   +--------+--------+--------+--------+      +------+------+------+   a tag word plus a
//!                         |                                              (ptr, len) or i64
//!                         v
//!                 Doc::Set(&[Doc::Simple("RO"), ...])  -> further static slices
//! ```
//!
//! The RESP3 types are kept as the oracle sent them (maps, sets, status strings); `write_resp`
//! lowers them to RESP2 the way Redis 7.0's networking layer does: a map of n pairs becomes a
//! flat array of 2n elements, a set becomes an array, status strings stay status strings, and a
//! null becomes the null bulk string `$-1`.

/// One node of a static reply tree, so that COMMAND INFO / DOCS can be sent in RESP2 or RESP3
/// form from the same generated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    /// A status reply (`+text`); Redis uses these for flag names such as `readonly`.
    Simple(&'static str),
    /// A bulk string (`$len text`), used for names, summaries and most values.
    Bulk(&'static str),
    /// An integer reply (`:n`), e.g. arity and key positions.
    Int(i64),
    /// An ordered array (`*n`), e.g. one COMMAND INFO entry or a history pair.
    Array(&'static [Doc]),
    /// A RESP3 set (`~n`); sent as a plain array in RESP2.
    Set(&'static [Doc]),
    /// A RESP3 map (`%n`) of key/value pairs; flattened to an array of 2n in RESP2.
    Map(&'static [(Doc, Doc)]),
    /// The null reply: `_` in RESP3, the null bulk string `$-1` in RESP2 (what `addReplyNull`
    /// sends, e.g. for an unknown name in COMMAND INFO).
    Null,
}

impl Doc {
    /// Appends this tree's wire encoding to `out`, in RESP3 form when `resp3` is true and in the
    /// RESP2 lowering otherwise (see the module comment); the bytes match Redis 7.0 exactly.
    pub fn write_resp(&self, out: &mut Vec<u8>, resp3: bool) {
        match *self {
            Doc::Simple(s) => {
                out.push(b'+');
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Doc::Bulk(s) => {
                push_header(out, b'$', s.len() as u64);
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Doc::Int(n) => {
                out.push(b':');
                push_i64(out, n);
                out.extend_from_slice(b"\r\n");
            }
            Doc::Array(items) => {
                push_header(out, b'*', items.len() as u64);
                for item in items {
                    item.write_resp(out, resp3);
                }
            }
            Doc::Set(items) => {
                push_header(out, if resp3 { b'~' } else { b'*' }, items.len() as u64);
                for item in items {
                    item.write_resp(out, resp3);
                }
            }
            Doc::Map(pairs) => {
                if resp3 {
                    push_header(out, b'%', pairs.len() as u64);
                } else {
                    push_header(out, b'*', 2 * pairs.len() as u64);
                }
                for (k, v) in pairs {
                    k.write_resp(out, resp3);
                    v.write_resp(out, resp3);
                }
            }
            Doc::Null => {
                out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" });
            }
        }
    }

    /// Convenience for callers that want the bytes on their own (tests, one-off replies).
    pub fn to_resp(&self, resp3: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_resp(&mut out, resp3);
        out
    }

    /// Looks up `key` in a map node (by bulk or status string key); `None` for other node kinds.
    /// Lets callers read single fields of a docs tree (e.g. "complexity") without re-parsing.
    pub fn get(&self, key: &str) -> Option<&'static Doc> {
        match *self {
            Doc::Map(pairs) => pairs.iter().find_map(|(k, v)| match k {
                Doc::Bulk(s) | Doc::Simple(s) if *s == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// Writes `<tag><n>\r\n`, the length header shared by bulk strings and aggregates.
fn push_header(out: &mut Vec<u8>, tag: u8, n: u64) {
    out.push(tag);
    push_u64(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Decimal formatting without going through `fmt` (this runs for every node of a large tree).
/// Lengths here are element counts, far below `i64::MAX`.
fn push_u64(out: &mut Vec<u8>, n: u64) {
    push_i64(out, n as i64);
}

/// Signed decimal, through the shared formatter.
fn push_i64(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(crate::util::num::fmt_i64(n, &mut buf));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// COMMAND INFO get's entry, as in Redis 7.0.15's command table.
    const GET_INFO: Doc = Doc::Array(&[
        Doc::Bulk("get"),
        Doc::Int(2),
        Doc::Set(&[Doc::Simple("readonly"), Doc::Simple("fast")]),
        Doc::Int(1),
        Doc::Int(1),
        Doc::Int(1),
        Doc::Set(&[
            Doc::Simple("@read"),
            Doc::Simple("@string"),
            Doc::Simple("@fast"),
        ]),
        Doc::Set(&[]),
        Doc::Set(&[Doc::Map(&[
            (
                Doc::Bulk("flags"),
                Doc::Set(&[Doc::Simple("RO"), Doc::Simple("access")]),
            ),
            (
                Doc::Bulk("begin_search"),
                Doc::Map(&[
                    (Doc::Bulk("type"), Doc::Bulk("index")),
                    (
                        Doc::Bulk("spec"),
                        Doc::Map(&[(Doc::Bulk("index"), Doc::Int(1))]),
                    ),
                ]),
            ),
            (
                Doc::Bulk("find_keys"),
                Doc::Map(&[
                    (Doc::Bulk("type"), Doc::Bulk("range")),
                    (
                        Doc::Bulk("spec"),
                        Doc::Map(&[
                            (Doc::Bulk("lastkey"), Doc::Int(0)),
                            (Doc::Bulk("keystep"), Doc::Int(1)),
                            (Doc::Bulk("limit"), Doc::Int(0)),
                        ]),
                    ),
                ]),
            ),
        ])]),
        Doc::Set(&[]),
    ]);

    /// The entry bytes (after the outer `*1`) that redis-server 7.0.15 sent for
    /// `COMMAND INFO get` over RESP2.
    const GET_INFO_RESP2: &[u8] =
        b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n\
$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n\
$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

    /// The same entry as sent after `HELLO 3`.
    const GET_INFO_RESP3: &[u8] =
        b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n\
$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n\
$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n\
$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";

    #[test]
    fn get_info_matches_oracle_bytes_in_both_protocols() {
        assert_eq!(GET_INFO.to_resp(false), GET_INFO_RESP2);
        assert_eq!(GET_INFO.to_resp(true), GET_INFO_RESP3);
    }

    #[test]
    fn history_set_of_arrays_lowers_to_nested_arrays() {
        // COMMAND DOCS set's "history": a RESP3 set whose members are 2-element arrays.
        let history = Doc::Set(&[Doc::Array(&[
            Doc::Bulk("6.0.0"),
            Doc::Bulk("Added the `KEEPTTL` option."),
        ])]);
        assert_eq!(
            history.to_resp(true),
            b"~1\r\n*2\r\n$5\r\n6.0.0\r\n$27\r\nAdded the `KEEPTTL` option.\r\n"
        );
        assert_eq!(
            history.to_resp(false),
            b"*1\r\n*2\r\n$5\r\n6.0.0\r\n$27\r\nAdded the `KEEPTTL` option.\r\n"
        );
    }

    #[test]
    fn null_and_empty_aggregates() {
        assert_eq!(Doc::Null.to_resp(false), b"$-1\r\n");
        assert_eq!(Doc::Null.to_resp(true), b"_\r\n");
        assert_eq!(Doc::Map(&[]).to_resp(false), b"*0\r\n");
        assert_eq!(Doc::Map(&[]).to_resp(true), b"%0\r\n");
        assert_eq!(Doc::Set(&[]).to_resp(true), b"~0\r\n");
        assert_eq!(Doc::Bulk("").to_resp(true), b"$0\r\n\r\n");
    }

    #[test]
    fn integers_format_like_redis() {
        for (n, s) in [
            (0i64, ":0\r\n"),
            (-3, ":-3\r\n"),
            (1234567890, ":1234567890\r\n"),
            (i64::MIN, ":-9223372036854775808\r\n"),
            (i64::MAX, ":9223372036854775807\r\n"),
        ] {
            assert_eq!(Doc::Int(n).to_resp(false), s.as_bytes());
        }
    }

    #[test]
    fn get_finds_map_fields() {
        let m = Doc::Map(&[
            (Doc::Bulk("summary"), Doc::Bulk("x")),
            (Doc::Bulk("since"), Doc::Bulk("1.0.0")),
        ]);
        assert_eq!(m.get("since"), Some(&Doc::Bulk("1.0.0")));
        assert_eq!(m.get("nope"), None);
        assert_eq!(Doc::Int(1).get("since"), None);
    }
}
