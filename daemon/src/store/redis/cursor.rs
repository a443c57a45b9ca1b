//! A delivery cursor as stored in Redis: `inbox;gid:seq,gid:seq`.

use crate::store::{Cursor, StoreError};

/// The stored form of `c`.
pub fn encode(c: &Cursor) -> String {
    let groups: Vec<String> = c.groups.iter().map(|(g, s)| format!("{g}:{s}")).collect();
    format!("{};{}", c.inbox, groups.join(","))
}

/// Parses a stored cursor; an unreadable one is an error naming it.
pub fn decode(s: &str) -> Result<Cursor, StoreError> {
    let bad = || StoreError::Unavailable(format!("unreadable cursor `{s}` in redis"));
    let (inbox, groups) = s.split_once(';').ok_or_else(bad)?;
    let groups = groups
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once(':')
                .and_then(|(g, s)| Some((g.parse().ok()?, s.parse().ok()?)))
                .ok_or_else(bad)
        })
        .collect::<Result<_, _>>()?;
    Ok(Cursor {
        inbox: inbox.parse().map_err(|_| bad())?,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for c in [
            Cursor::default(),
            Cursor {
                inbox: 9,
                groups: vec![(3, 4), (8, 1)],
            },
        ] {
            assert_eq!(decode(&encode(&c)).unwrap(), c);
        }
        for bad in ["", "x;", "1;2", "1;a:b", "1"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
