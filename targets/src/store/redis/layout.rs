//! Spring Session's key layout: one hash per session, its field names, the Lua scripts that
//! read and write it atomically, and how a session is rebuilt from its fields.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Script;

use crate::codec::SessionCodec;
use crate::session::{Session, SessionId};
use crate::store::api::StoreError;

/// Hash fields other than attributes (Spring Session's names; times in milliseconds).
pub(super) const CREATION_TIME: &str = "creationTime";
pub(super) const LAST_ACCESSED: &str = "lastAccessedTime";
pub(super) const MAX_INACTIVE: &str = "maxInactiveInterval";
pub(super) const USER: &str = "user";
pub(super) const COUNTER: &str = "counter";
pub(super) const VERSION: &str = "version";
/// Prefix of attribute fields, as in Spring Session.
pub(super) const ATTR: &str = "sessionAttr:";

#[derive(Clone)]
pub(super) struct Scripts {
    /// KEYS[1] session; ARGV: idle limit in ms, then field/value pairs. One command, so it is
    /// atomic and routed by its key on a cluster (a MULTI pipeline would need both).
    pub(super) create: Script,
    /// KEYS[1] session; ARGV: now. Renews the idle clock and returns the hash, or nothing.
    pub(super) access: Script,
    /// KEYS[1] session; ARGV: now, counter increment, version (kept if higher than the
    /// stored one; 0 for none), number of fields set, field/value pairs, names removed.
    /// Returns 1, or 0 (writing nothing) when the session is gone.
    pub(super) save: Script,
    /// KEYS[1] a session's lock; ARGV[1] the token that took it. Deletes it if still theirs.
    pub(super) unlock: Script,
}

impl Scripts {
    /// Without `renew`, access and save leave the TTL that create set.
    pub(super) fn new(renew: bool) -> Self {
        // `RENEW` in a script's text is where it renews the TTL, or nothing.
        let renewal = if renew {
            "redis.call('PEXPIRE', KEYS[1], ms)"
        } else {
            ""
        };
        let script = |text: &str| Script::new(&text.replace("RENEW", renewal));
        Self {
            create: Script::new(
                r"
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
",
            ),
            access: script(
                r"
local ms = redis.call('HGET', KEYS[1], 'maxInactiveInterval')
if not ms then return nil end
redis.call('HSET', KEYS[1], 'lastAccessedTime', ARGV[1])
RENEW
return redis.call('HGETALL', KEYS[1])
",
            ),
            unlock: Script::new(
                r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
            ),
            save: script(
                r"
local ms = redis.call('HGET', KEYS[1], 'maxInactiveInterval')
if not ms then return 0 end
local sets = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lastAccessedTime', ARGV[1], unpack(ARGV, 5, 4 + 2 * sets))
if #ARGV > 4 + 2 * sets then
  redis.call('HDEL', KEYS[1], unpack(ARGV, 5 + 2 * sets))
end
if tonumber(ARGV[2]) > 0 then
  redis.call('HINCRBY', KEYS[1], 'counter', ARGV[2])
end
local v = tonumber(ARGV[3])
if v > (tonumber(redis.call('HGET', KEYS[1], 'version')) or 0) then
  redis.call('HSET', KEYS[1], 'version', ARGV[3])
end
RENEW
return 1
",
            ),
        }
    }
}

/// Bytes of field names and values.
pub(super) fn size(fields: &[(String, Vec<u8>)]) -> u64 {
    fields.iter().map(|(f, v)| (f.len() + v.len()) as u64).sum()
}

/// A session read back, or why one of its attributes could not be decoded.
pub(super) enum Decoded {
    Session(Session),
    Undecodable(crate::codec::CodecError),
}

pub(super) fn corrupt(why: String) -> StoreError {
    StoreError::Corrupt {
        store: "redis",
        source: why.into(),
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

pub(super) fn attr_field(name: &str) -> String {
    format!("{ATTR}{name}")
}

/// Rebuilds a session from its hash fields. Metadata that does not parse is corruption; an
/// attribute the codec cannot read is a session this node cannot use.
pub(super) fn decode(
    id: &SessionId,
    fields: Vec<(String, Vec<u8>)>,
    codec: &SessionCodec,
) -> Result<Decoded, StoreError> {
    let text = |v: &[u8], field: &str| {
        std::str::from_utf8(v)
            .map(str::to_owned)
            .map_err(|_| corrupt(format!("session {id}: field {field} is not UTF-8")))
    };
    let number = |v: &[u8], field: &str| {
        text(v, field)?
            .parse::<u64>()
            .map_err(|_| corrupt(format!("session {id}: field {field} is not a number")))
    };
    let mut session = Session::new(id.clone(), String::new(), Duration::ZERO);
    for (field, value) in fields {
        match field.as_str() {
            USER => session.user = text(&value, USER)?,
            COUNTER => session.counter = number(&value, COUNTER)?,
            VERSION => session.version = number(&value, VERSION)?,
            MAX_INACTIVE => {
                session.max_inactive = Duration::from_millis(number(&value, MAX_INACTIVE)?);
            }
            CREATION_TIME | LAST_ACCESSED => {}
            other => {
                if let Some(name) = other.strip_prefix(ATTR) {
                    match codec.decode_attr(&value) {
                        Ok(attr) => session.attrs.insert(name.to_string(), attr),
                        Err(e) => return Ok(Decoded::Undecodable(e)),
                    };
                }
            }
        }
    }
    Ok(Decoded::Session(session))
}
