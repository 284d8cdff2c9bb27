use proptest::prelude::*;
use serde_json::Value;

use super::shapes::{self, Login, LoginV2Added, LoginV2Removed, LoginV2Renamed};
use super::value::{from_tokens, to_tokens};
use super::*;
use crate::session::{Attr, Session, SessionChange, SessionId};

/// JSON values as clients send them: scalars, strings, and nested arrays and objects.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn attr() -> impl Strategy<Value = Attr> {
    (json_value(), "[a-z0-9-]{1,16}").prop_map(|(value, write)| Attr { value, write })
}

fn session() -> impl Strategy<Value = Session> {
    (
        "[0-9a-f]{32}",
        ".{0,12}",
        any::<u64>(),
        prop::collection::btree_map("[a-z]{1,8}", attr(), 0..5),
        any::<u64>(),
        0u64..10_000_000,
    )
        .prop_map(|(id, user, counter, attrs, version, ms)| Session {
            id: SessionId::parse(&id).expect("32 hex digits"),
            user,
            counter,
            attrs,
            version,
            max_inactive: std::time::Duration::from_millis(ms),
        })
}

fn change() -> impl Strategy<Value = SessionChange> {
    (
        prop::collection::btree_map("[a-z]{1,8}", attr(), 0..4),
        prop::collection::vec("[a-z]{1,8}", 0..3),
        any::<Option<u64>>(),
        any::<u64>(),
    )
        .prop_map(|(set, removed, counter, version)| SessionChange {
            set,
            removed,
            counter,
            version,
            increment: 0,
        })
}

fn any_codec() -> impl Strategy<Value = SessionCodec> {
    (
        prop::sample::select(FormatCodec::all()),
        prop::sample::select(vec![Schema::V1, Schema::V2]),
    )
        .prop_map(|(codec, schema)| SessionCodec::new(codec, schema))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_values_survive_tokens(value in json_value()) {
        prop_assert_eq!(from_tokens(to_tokens(&value)).expect("well-formed"), value);
    }

    #[test]
    fn sessions_round_trip_in_every_codec(s in session(), codec in any_codec()) {
        prop_assert_eq!(codec.decode_session(&codec.encode_session(&s)).expect("decodes"), s);
    }

    #[test]
    fn changes_round_trip_in_every_codec(c in change(), codec in any_codec()) {
        prop_assert_eq!(codec.decode_change(&codec.encode_change(&c)).expect("decodes"), c);
    }

    #[test]
    fn attributes_round_trip_in_every_codec(a in attr(), codec in any_codec()) {
        prop_assert_eq!(codec.decode_attr(&codec.encode_attr(&a)).expect("decodes"), a);
    }

    #[test]
    fn shapes_round_trip_in_every_codec(seed in any::<u64>(), codec in prop::sample::select(FormatCodec::all())) {
        let login = shapes::login(seed);
        prop_assert_eq!(Codec::<Login>::decode(&codec, &codec.encode(&login).expect("encodes")).expect("decodes"), login);
        let cart = shapes::cart(seed);
        prop_assert_eq!(Codec::<shapes::Cart>::decode(&codec, &codec.encode(&cart).expect("encodes")).expect("decodes"), cart);
    }
}

#[test]
fn the_large_shape_round_trips_in_every_codec() {
    let cached = shapes::cached(7);
    for codec in FormatCodec::all() {
        let bytes = codec.encode(&cached).expect("encodes");
        let back: shapes::Cached = codec.decode(&bytes).expect("decodes");
        assert!(back == cached, "{codec}");
    }
}

#[test]
fn codec_names_parse_and_print() {
    for codec in FormatCodec::all() {
        assert_eq!(codec.to_string().parse::<FormatCodec>(), Ok(codec));
    }
    assert_eq!(
        "msgpack+lz4".parse::<FormatCodec>(),
        Ok(FormatCodec::new(Format::Msgpack, Compression::Lz4))
    );
    let err = "yaml+gzip".parse::<FormatCodec>().expect_err("refused");
    assert!(
        err.contains("unknown format `yaml`") && err.contains("protobuf"),
        "{err}"
    );
    let err = "json+gzip".parse::<FormatCodec>().expect_err("refused");
    assert!(err.contains("unknown compression `gzip`"), "{err}");
}

/// The matrix `sessionbench codecs` prints, pinned so a library upgrade that changes it is
/// noticed: (new reads old, old reads new) for a field added, removed and renamed.
#[test]
fn schema_evolution_is_what_each_format_allows() {
    let expected = [
        (Format::Json, [(true, true), (true, false), (false, false)]),
        (
            Format::Msgpack,
            [(true, false), (false, false), (true, true)],
        ),
        (
            Format::MsgpackNamed,
            [(true, true), (true, false), (false, false)],
        ),
        (Format::Cbor, [(true, true), (true, false), (false, false)]),
        (
            Format::Postcard,
            [(false, true), (false, false), (true, true)],
        ),
        (
            Format::Bitcode,
            [(false, false), (false, false), (true, true)],
        ),
        (Format::Protobuf, [(true, true), (true, true), (true, true)]),
    ];
    for (format, cells) in expected {
        for compression in Compression::ALL {
            let codec = FormatCodec::new(format, compression);
            let seen = [
                shapes::evolution::<LoginV2Added>(codec),
                shapes::evolution::<LoginV2Removed>(codec),
                shapes::evolution::<LoginV2Renamed>(codec),
            ]
            .map(|e| (e.new_reads_old, e.old_reads_new));
            assert_eq!(seen, cells, "{codec}: added, removed, renamed");
        }
    }
}

/// The node's own deploy (schema 2 adds a field to every attribute): which formats let each
/// version read the other's sessions.
#[test]
fn node_schema_2_reads_schema_1_only_in_formats_that_name_fields() {
    let s = shapes::node_session(1);
    for format in Format::ALL {
        let codec = FormatCodec::new(format, Compression::Lz4);
        let (v1, v2) = (
            SessionCodec::new(codec, Schema::V1),
            SessionCodec::new(codec, Schema::V2),
        );
        let new_reads_old = v2
            .decode_session(&v1.encode_session(&s))
            .is_ok_and(|x| x == s);
        let old_reads_new = v1
            .decode_session(&v2.encode_session(&s))
            .is_ok_and(|x| x == s);
        let expected = match format {
            Format::Json | Format::MsgpackNamed | Format::Cbor | Format::Protobuf => (true, true),
            Format::Msgpack => (true, false),
            Format::Postcard | Format::Bitcode => (false, false),
        };
        assert_eq!((new_reads_old, old_reads_new), expected, "{format}");
    }
}
