//! JSON attribute values as a flat token list. Positional formats (postcard, bitcode, msgpack
//! arrays) cannot carry `serde_json::Value`, which needs a self-describing format, and a
//! recursive wire type would let a crafted input nest deep enough to overflow the stack. A
//! flat list decodes without recursion; the tree is rebuilt here with an explicit stack and a
//! depth bound.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::CodecError;

/// Deepest nesting rebuilt (serde_json's own parser stops at 128 too).
const MAX_DEPTH: usize = 128;

#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Message)]
pub struct Token {
    #[prost(oneof = "Tok", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    pub tok: Option<Tok>,
}

/// One JSON item in pre-order; `Array(n)` and `Object(n)` are followed by their `n` items
/// (an object's as key `Str`, value pairs).
#[derive(Clone, PartialEq, Serialize, Deserialize, prost::Oneof)]
pub enum Tok {
    #[prost(bool, tag = "1")]
    Null(bool),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(int64, tag = "3")]
    Int(i64),
    #[prost(uint64, tag = "4")]
    Uint(u64),
    #[prost(double, tag = "5")]
    Float(f64),
    #[prost(string, tag = "6")]
    Str(String),
    #[prost(uint32, tag = "7")]
    Array(u32),
    #[prost(uint32, tag = "8")]
    Object(u32),
}

/// Flattens a value. Recursion is safe here: values come from the node's own JSON parser,
/// which bounds their depth.
pub fn to_tokens(value: &Value) -> Vec<Token> {
    let mut out = Vec::new();
    push(value, &mut out);
    out
}

fn push(value: &Value, out: &mut Vec<Token>) {
    let tok = |tok| Token { tok: Some(tok) };
    match value {
        Value::Null => out.push(tok(Tok::Null(true))),
        Value::Bool(b) => out.push(tok(Tok::Bool(*b))),
        Value::Number(n) => out.push(tok(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Tok::Uint(u),
            (None, Some(i)) => Tok::Int(i),
            _ => Tok::Float(n.as_f64().unwrap_or_default()),
        })),
        Value::String(s) => out.push(tok(Tok::Str(s.clone()))),
        Value::Array(items) => {
            out.push(tok(Tok::Array(count(items.len()))));
            items.iter().for_each(|v| push(v, out));
        }
        Value::Object(map) => {
            out.push(tok(Tok::Object(count(map.len()))));
            for (k, v) in map {
                out.push(tok(Tok::Str(k.clone())));
                push(v, out);
            }
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).expect("a JSON container under 4 billion items")
}

/// A container being rebuilt: what it holds so far, how many items it still expects, and (for
/// an object) the key read for the next value.
enum Open {
    Array(Vec<Value>, u32),
    Object(Map<String, Value>, u32, Option<String>),
}

/// Rebuilds a value from its tokens, without recursion; any token list that is not exactly one
/// well-formed value is an error.
pub fn from_tokens(tokens: Vec<Token>) -> Result<Value, CodecError> {
    let bad = |why: &str| CodecError::Format {
        codec: "value",
        why: why.to_string(),
    };
    let total = tokens.len();
    let mut stack: Vec<Open> = Vec::new();
    let mut result = None;
    for (i, token) in tokens.into_iter().enumerate() {
        if result.is_some() {
            return Err(bad("tokens after the value"));
        }
        let tok = token.tok.ok_or_else(|| bad("empty token"))?;
        // An object that waits for a key takes this token as the key.
        if let Some(Open::Object(_, _, slot @ None)) = stack.last_mut() {
            let Tok::Str(key) = tok else {
                return Err(bad("object key is not a string"));
            };
            *slot = Some(key);
            continue;
        }
        let mut value = match tok {
            Tok::Null(_) => Value::Null,
            Tok::Bool(b) => Value::Bool(b),
            Tok::Int(n) => Value::from(n),
            Tok::Uint(n) => Value::from(n),
            Tok::Float(f) => Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| bad("not a finite number"))?,
            Tok::Str(s) => Value::String(s),
            Tok::Array(0) => Value::Array(Vec::new()),
            Tok::Object(0) => Value::Object(Map::new()),
            Tok::Array(n) | Tok::Object(n) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(bad("nested too deep"));
                }
                // Each item takes at least one token: refuse before allocating.
                if n as usize > total - i - 1 {
                    return Err(bad("container longer than the tokens left"));
                }
                stack.push(match tok {
                    Tok::Array(_) => Open::Array(Vec::with_capacity(n as usize), n),
                    _ => Open::Object(Map::new(), n, None),
                });
                continue;
            }
        };
        // Attach the value to its container, closing every container it completes.
        loop {
            match stack.last_mut() {
                None => {
                    result = Some(value);
                    break;
                }
                Some(Open::Array(items, left)) => {
                    items.push(value);
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Some(Open::Object(map, left, key)) => {
                    map.insert(key.take().unwrap_or_default(), value);
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
            }
            value = match stack.pop() {
                Some(Open::Array(items, _)) => Value::Array(items),
                Some(Open::Object(map, ..)) => Value::Object(map),
                None => unreachable!("the loop returned on an empty stack"),
            };
        }
    }
    result.ok_or_else(|| bad("value ends early"))
}
