//! The envelope fields the server reads or guards, with the type each must
//! have and the reasons a reject gives for them.
//!
//! Every other key is passed through untouched, so this table is also the
//! list of keys whose duplicates are refused: for these the server's reading
//! and a recipient's reading must not be able to differ.

/// What a known field must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A JSON integer that fits an `i64`.
    Int,
    /// A JSON string of at most this many (decoded) bytes.
    Str(usize),
    /// Set by the server on delivery; a client must not send it.
    ServerOnly,
    /// Read only for cmd 30 (see `sync.rs`); other commands pass it through.
    Sync,
}

macro_rules! fields {
    ($($var:ident = $key:literal, $kind:expr, $wants:literal;)*) => {
        /// A known envelope key.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Field {
            $($var,)*
        }

        impl Field {
            /// Every known field, in the order type checks run.
            pub(crate) const ALL: &'static [Field] = &[$(Field::$var,)*];

            /// Number of known fields (the size of per-field tables).
            pub(crate) const COUNT: usize = Self::ALL.len();

            /// The field named by a (decoded) object key.
            #[inline]
            pub(crate) fn from_key(key: &str) -> Option<Field> {
                match key {
                    $($key => Some(Field::$var),)*
                    _ => None,
                }
            }

            /// What the field must hold.
            pub(crate) fn kind(self) -> Kind {
                match self {
                    $(Field::$var => $kind,)*
                }
            }

            /// Reject reason when the value has the wrong type.
            pub(crate) fn wrong_type(self) -> &'static str {
                match self {
                    $(Field::$var => concat!("\"", $key, "\" must be ", $wants),)*
                }
            }

            /// Reject reason when the key occurs more than once.
            pub(crate) fn duplicate(self) -> &'static str {
                match self {
                    $(Field::$var => concat!("duplicate \"", $key, "\""),)*
                }
            }

            /// Reject reason when a string value is over its limit.
            pub(crate) fn too_long(self) -> &'static str {
                match self {
                    $(Field::$var => concat!("\"", $key, "\" is over its size limit"),)*
                }
            }
        }
    };
}

use super::limits::{MAX_CONTENT_LEN, MAX_REF_LEN};

fields! {
    Id = "id", Kind::Int, "an integer";
    Userid = "userid", Kind::Int, "an integer";
    Cmd = "cmd", Kind::Int, "an integer";
    Dstid = "dstid", Kind::Int, "an integer";
    Media = "media", Kind::Int, "an integer";
    Amount = "amount", Kind::Int, "an integer";
    Content = "content", Kind::Str(MAX_CONTENT_LEN), "a string";
    Pic = "pic", Kind::Str(MAX_REF_LEN), "a string";
    Url = "url", Kind::Str(MAX_REF_LEN), "a string";
    Memo = "memo", Kind::Str(MAX_REF_LEN), "a string";
    Seq = "seq", Kind::ServerOnly, "set by the server";
    Ts = "ts", Kind::ServerOnly, "set by the server";
    Inbox = "inbox", Kind::Sync, "a non-negative integer";
    Groups = "groups", Kind::Sync, "an object of \"<gid>\": <seq>";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_fields_exactly() {
        assert_eq!(Field::from_key("userid"), Some(Field::Userid));
        assert_eq!(Field::from_key("groups"), Some(Field::Groups));
        assert_eq!(Field::from_key("Userid"), None);
        assert_eq!(Field::from_key("userid "), None);
        assert_eq!(Field::COUNT, 14);
    }

    #[test]
    fn reasons_name_the_field() {
        assert_eq!(Field::Dstid.wrong_type(), "\"dstid\" must be an integer");
        assert_eq!(Field::Userid.duplicate(), "duplicate \"userid\"");
        assert_eq!(Field::Pic.too_long(), "\"pic\" is over its size limit");
    }
}
