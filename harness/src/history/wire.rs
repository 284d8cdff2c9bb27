//! How a record is laid out in the compact file. Operations are nearly every record, so they
//! get a dense layout: postcard (varints, no field names) of [`OpWire`], with the start and
//! end as deltas. It costs about a microsecond either way, where CBOR of the same operation
//! cost five to decode. Every other record is CBOR, whose field names keep it readable by
//! the same serde types as the JSON export.

use serde::{Deserialize, Serialize};

use super::{Op, OpKind, Outcome, Record, View};

/// An operation as format 5 wrote it, without what format 6 added.
const OP_V5: u8 = 0;
const OTHER: u8 = 1;
/// An operation with whether its answers changed the cookies, and a redirect's target.
const OP: u8 = 2;

/// An operation's fields in a fixed order; `S` is `&str` to write and `String` to read.
#[derive(Serialize, Deserialize)]
struct OpWire<S> {
    target: S,
    session: S,
    kind: OpKind,
    attr: Option<S>,
    write: Option<S>,
    intended_us: u64,
    /// From the intended start to the start, and from the start to the end.
    late_us: u64,
    took_us: u64,
    status: Option<u16>,
    node: Option<S>,
    outcome: Outcome,
    error: Option<S>,
    view: Option<ViewWire<S>>,
}

/// Format 6: format 5's fields, then what it added (postcard lays a nested struct out
/// inline, so the first part reads as format 5's).
#[derive(Serialize, Deserialize)]
struct OpWireV6<S> {
    op: OpWire<S>,
    cookies_changed: bool,
    location: Option<S>,
}

#[derive(Serialize, Deserialize)]
struct ViewWire<S> {
    user: Option<S>,
    counter: Option<u64>,
    version: Option<u64>,
    attrs: Option<Vec<(S, S)>>,
}

/// Appends `record`'s tag and bytes to `out`.
pub(super) fn encode(record: &Record, out: &mut Vec<u8>) -> std::io::Result<()> {
    let Record::Op(op) = record else {
        out.push(OTHER);
        return ciborium::into_writer(record, out).map_err(std::io::Error::other);
    };
    out.push(OP);
    let op_wire = OpWire {
        target: op.target.as_str(),
        session: &op.session,
        kind: op.kind,
        attr: op.attr.as_deref(),
        write: op.write.as_deref(),
        intended_us: op.intended_us,
        late_us: op.start_us.saturating_sub(op.intended_us),
        took_us: op.end_us.saturating_sub(op.start_us),
        status: op.status,
        node: op.node.as_deref(),
        outcome: op.outcome,
        error: op.error.as_deref(),
        view: op.view.as_ref().map(|v| ViewWire {
            user: v.user.as_deref(),
            counter: v.counter,
            version: v.version,
            attrs: v
                .attrs
                .as_ref()
                .map(|a| a.iter().map(|(k, w)| (k.as_str(), w.as_str())).collect()),
        }),
    };
    let wire = OpWireV6 {
        op: op_wire,
        cookies_changed: op.cookies_changed,
        location: op.location.as_deref(),
    };
    // The extender appends to `out` in place: no buffer per record.
    postcard::to_extend(&wire, std::mem::take(out))
        .map(|bytes| *out = bytes)
        .map_err(std::io::Error::other)
}

/// The record in `bytes` (its tag first).
pub(super) fn decode(bytes: &[u8]) -> Result<Record, String> {
    match bytes.split_first() {
        Some((&OP, rest)) => {
            let w: OpWireV6<String> = postcard::from_bytes(rest).map_err(|e| e.to_string())?;
            let mut op = op_of(w.op);
            op.cookies_changed = w.cookies_changed;
            op.location = w.location;
            Ok(Record::Op(op))
        }
        Some((&OP_V5, rest)) => {
            let w: OpWire<String> = postcard::from_bytes(rest).map_err(|e| e.to_string())?;
            Ok(Record::Op(op_of(w)))
        }
        Some((&OTHER, rest)) => ciborium::from_reader(rest)
            .map_err(|e: ciborium::de::Error<std::io::Error>| e.to_string()),
        Some((tag, _)) => Err(format!("unknown record tag {tag}")),
        None => Err("an empty record".into()),
    }
}

fn op_of(w: OpWire<String>) -> Op {
    let start_us = w.intended_us.saturating_add(w.late_us);
    Op {
        target: w.target,
        session: w.session,
        kind: w.kind,
        attr: w.attr,
        write: w.write,
        intended_us: w.intended_us,
        start_us,
        end_us: start_us.saturating_add(w.took_us),
        status: w.status,
        node: w.node,
        outcome: w.outcome,
        error: w.error,
        view: w.view.map(|v| View {
            user: v.user,
            counter: v.counter,
            version: v.version,
            attrs: v.attrs.map(|a| a.into_iter().collect()),
        }),
        cookies_changed: false,
        location: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_with_every_field_comes_back_whole() {
        let mut op = crate::history::test_read("v1.2", (10, 25, 1_025), Outcome::Ok);
        op.kind = OpKind::Write;
        op.attr = Some("cart".into());
        op.write = Some("v1.2:3".into());
        op.node = Some("node2".into());
        op.error = Some("timeout".into());
        op.view = Some(View {
            user: Some("v1.2".into()),
            counter: Some(4),
            version: None,
            attrs: Some([("cart".to_string(), "v1.2:3".to_string())].into()),
        });
        op.cookies_changed = true;
        op.location = Some("/account".into());
        let record = Record::Op(op.clone());
        let mut bytes = Vec::new();
        encode(&record, &mut bytes).expect("encode");
        assert_eq!(decode(&bytes).expect("decode"), record);
        // Format 5 wrote the same without the last two fields, under its own tag.
        let mut v5 = vec![OP_V5];
        v5.extend_from_slice(&bytes[1..bytes.len() - 1 - 1 - "/account".len() - 1]);
        let old = decode(&v5).expect("a format-5 operation");
        op.cookies_changed = false;
        op.location = None;
        assert_eq!(old, Record::Op(op));
        let end = Record::SessionEnd {
            target: "t".into(),
            session: "v1.2".into(),
            at_us: 7,
        };
        bytes.clear();
        encode(&end, &mut bytes).expect("encode");
        assert_eq!(decode(&bytes).expect("decode"), end);
        assert!(decode(&[9]).is_err_and(|e| e.contains("tag 9")));
    }
}
