//! Decoders against hostile input: random bytes, truncated and corrupted encodings, and
//! "bombs" whose headers promise huge sizes. Every decoder must return an error, never panic
//! or hang, and never allocate past a budget: the global allocator here refuses (and so aborts
//! the test) once live memory grows more than `BUDGET` beyond where the test started.

use cap::Cap;
use proptest::prelude::*;
use sessionbench_targets::codec::shapes::{self, Cached, Cart, Login};
use sessionbench_targets::codec::{
    Codec, CodecError, Compression, Format, FormatCodec, Schema, SessionCodec,
};

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// What the decoders may hold at once beyond the test's own memory. The codecs' limit is set
/// to `LIMIT`, so anything near the budget is a decoder trusting a length it read.
const BUDGET: usize = 24 << 20;
const LIMIT: usize = 1 << 20;

fn bounded() {
    ALLOCATOR
        .set_limit(ALLOCATOR.allocated() + BUDGET)
        .expect("a limit above what is allocated");
}

fn codecs() -> Vec<FormatCodec> {
    FormatCodec::all()
        .into_iter()
        .map(|c| FormatCodec { limit: LIMIT, ..c })
        .collect()
}

/// Feeds `bytes` to every decoder this codec has; only errors or values may come back.
fn decode_everything(codec: FormatCodec, bytes: &[u8]) {
    for schema in [Schema::V1, Schema::V2] {
        let sessions = SessionCodec::new(codec, schema);
        let _ = sessions.decode_session(bytes);
        let _ = sessions.decode_change(bytes);
        let _ = sessions.decode_attr(bytes);
    }
    let _ = Codec::<Login>::decode(&codec, bytes);
    let _ = Codec::<Cart>::decode(&codec, bytes);
    let _ = Codec::<Cached>::decode(&codec, bytes);
}

/// Valid encodings to damage: the node's session and the cart, in this codec.
fn valid(codec: FormatCodec) -> Vec<Vec<u8>> {
    let sessions = SessionCodec::new(codec, Schema::V1);
    vec![
        sessions.encode_session(&shapes::node_session(3)),
        codec.encode(&shapes::cart(3)).expect("encodes"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_or_overallocate(
        codec in prop::sample::select(codecs()),
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        bounded();
        decode_everything(codec, &bytes);
    }

    /// Every cut loses bytes the value needs: a decoder may fail or return something else,
    /// never the whole value (and never panic).
    #[test]
    fn truncated_encodings_never_decode_as_the_whole_value(
        codec in prop::sample::select(codecs()),
        which in 0usize..2,
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = valid(codec).swap_remove(which);
        bounded();
        let cut = &bytes[..cut.index(bytes.len())];
        decode_everything(codec, cut);
        let whole = if which == 0 {
            SessionCodec::new(codec, Schema::V1).decode_session(cut).is_ok_and(|s| s == shapes::node_session(3))
        } else {
            Codec::<Cart>::decode(&codec, cut).is_ok_and(|c| c == shapes::cart(3))
        };
        prop_assert!(!whole, "{codec}: {} of {} bytes decoded as the whole value", cut.len(), bytes.len());
    }

    #[test]
    fn corrupted_encodings_decode_or_fail_without_panic(
        codec in prop::sample::select(codecs()),
        which in 0usize..2,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = valid(codec).swap_remove(which);
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= byte.max(1);
        }
        bounded();
        decode_everything(codec, &bytes);
    }
}

#[test]
fn an_lz4_header_promising_4_gib_is_refused_before_allocating() {
    let codec = FormatCodec {
        limit: LIMIT,
        ..FormatCodec::new(Format::Json, Compression::Lz4)
    };
    bounded();
    let mut bomb = u32::MAX.to_le_bytes().to_vec();
    bomb.extend_from_slice(&[0x1f, 0, 0, 0, 0]);
    let err = Codec::<Login>::decode(&codec, &bomb).expect_err("refused");
    assert!(matches!(err, CodecError::TooLarge { .. }), "{err}");
}

#[test]
fn a_zstd_frame_over_the_limit_is_refused_before_decompressing() {
    let big = FormatCodec::new(Format::Json, Compression::Zstd);
    let bytes = big.encode(&shapes::cached(1)).expect("encodes");
    let small = FormatCodec { limit: 4096, ..big };
    bounded();
    let err = Codec::<Cached>::decode(&small, &bytes).expect_err("refused");
    assert!(
        err.to_string().contains("over the 4096-byte decode limit"),
        "{err}"
    );
}

#[test]
fn input_over_the_limit_is_refused_whole() {
    let codec = FormatCodec {
        limit: 100,
        ..FormatCodec::default()
    };
    let err = Codec::<Login>::decode(&codec, &[b' '; 101]).expect_err("refused");
    assert!(
        matches!(err, CodecError::TooLarge { len: 101, .. }),
        "{err}"
    );
}

#[test]
fn length_prefixes_claiming_billions_of_items_do_not_allocate_them() {
    // postcard: a session whose attribute list claims u32::MAX entries; msgpack: an array 32
    // header claiming the same; protobuf: a string field claiming 2 GiB.
    let inputs: [(Format, Vec<u8>); 3] = [
        (
            Format::Postcard,
            vec![0x20, b'a', 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ),
        (Format::Msgpack, vec![0xdd, 0xff, 0xff, 0xff, 0xff]),
        (Format::Protobuf, vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x07]),
    ];
    bounded();
    for (format, bytes) in inputs {
        let codec = FormatCodec {
            limit: LIMIT,
            ..FormatCodec::new(format, Compression::None)
        };
        let sessions = SessionCodec::new(codec, Schema::V1);
        assert!(sessions.decode_session(&bytes).is_err(), "{format}");
    }
}
