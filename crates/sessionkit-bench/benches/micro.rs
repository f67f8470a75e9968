//! Micro-benchmarks: what one request costs sessionkit, piece by piece, and the whole
//! middleware next to tower-sessions in the same run.
//!
//! - `sign_verify`, `sign`, `verify`: Django's signed format (`Signer::sign_object` /
//!   `unsign_object`) on sessions of 100 B, 1 KB and 4 KB of JSON, with the signer the
//!   `signed_cookies` engine uses (zlib tried from `SMALL_VALUE_BYTES` of JSON on).
//! - `json`: the Python-compatible writer (`Data::to_json`) plus the reader (`Data::from_json`).
//! - `zlib_level6`: the compression `sign_object` attempts on every value (Django keeps the
//!   result only when it is shorter), with a fresh encoder per value next to one
//!   `flate2::Compress` reset and reused (same bytes out): what creating the compressor costs.
//! - `floor_200B`: sign+verify of a 200-byte session with the `signed_cookies` engine's signer,
//!   next to two HMAC-SHA256 over the message it signs (the least any sign-then-verify must
//!   do). `sign_verify_payload` is the signing layer alone on the session's 200 bytes of JSON
//!   (`Signer::sign_payload` / `unsign_payload`: base64, base62 time, HMAC, constant-time
//!   check, decode), the measure the goal names, since encoding and decoding the JSON is the
//!   `json` group's; `sign_verify_with_json` adds writing and parsing the JSON
//!   (`sign_object` / `unsign_object`). Beside them: Django's always-try-zlib policy
//!   (`Signer` without `compressing_from`) and the bare format written out here (JSON,
//!   base64, base62 time, HMAC; verify in constant time, decode, parse).
//! - `key`: `SessionKey::generate`.
//! - `revocation`: loading a signed cookie without and with the revocation list (in process,
//!   10,000 sessions listed): the lookup's cost.
//! - `middleware`: one request through each stack of `in_process` (an axum router with a
//!   session layer, called with `tower::ServiceExt::oneshot`, no sockets), on the handlers
//!   `read` and `read_write`. `benches/allocations.rs` counts the same requests' allocations.
//!
//! Run: `cargo bench -p sessionkit-bench --bench micro -- --warm-up-time 1 --measurement-time 3`

mod in_process;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64_simd::URL_SAFE_NO_PAD;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use in_process::SECRET;
use serde_json::json;
use sessionkit::django::signing::{COOKIE_SALT, SMALL_VALUE_BYTES, Signer};
use sessionkit::engine::{
    ChangeSet, Data, Engine, JsonText, MemoryStore, RevocationList, SaveRequest, SessionKey,
    SignedCookieEngine,
};
use sha2::{Digest, Sha256};

/// A fixed signing time, so every run signs the same bytes.
const SIGNED_AT: u64 = 1_700_000_000;

/// A session shaped like a shop's (a user id, a counter, a cart) whose JSON is exactly
/// `bytes` long. The cart's SKUs are pseudo-random, so zlib finds about as much to squeeze as
/// in real carts and no more.
fn session_of(bytes: usize) -> Data {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random_sku = || {
        (0..8)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[(seed % 32) as usize])
            })
            .collect::<String>()
    };
    let mut data = Data::from_json(r#"{"user_id": 42, "n": 7}"#).unwrap();
    let size = |data: &Data| data.to_json().len();
    let mut cart = Vec::new();
    // Grow the cart while an item (~30 bytes) and the padding key (~10 bytes) still fit.
    while size(&data) + 48 < bytes {
        cart.push(json!({"sku": random_sku(), "qty": cart.len() % 5 + 1}));
        data.insert("cart", JsonText::new(&cart).unwrap());
    }
    let pad_overhead = r#","pad":"""#.len();
    let missing = bytes
        .checked_sub(size(&data) + pad_overhead)
        .expect("sizes start at 100 bytes");
    data.insert("pad", JsonText::from("x".repeat(missing).as_str()));
    assert_eq!(size(&data), bytes);
    data
}

const SIZES: [(&str, usize); 3] = [("100B", 100), ("1KB", 1024), ("4KB", 4096)];

/// The signer of the `signed_cookies` engine.
fn cookie_signer() -> Signer {
    Signer::new(COOKIE_SALT, SECRET, &[]).compressing_from(SMALL_VALUE_BYTES)
}

fn signing(c: &mut Criterion) {
    let signer = cookie_signer();
    let now = SystemTime::now();
    for (group_name, sign, verify) in [
        ("sign_verify", true, true),
        ("sign", true, false),
        ("verify", false, true),
    ] {
        let mut group = c.benchmark_group(group_name);
        for (name, bytes) in SIZES {
            let data = session_of(bytes);
            let signed = signer.sign_object(&data, SIGNED_AT);
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                match (sign, verify) {
                    (true, true) => b.iter(|| {
                        let value = signer.sign_object(black_box(&data), SIGNED_AT);
                        signer.unsign_object(&value, None, now).unwrap()
                    }),
                    (true, false) => b.iter(|| signer.sign_object(black_box(&data), SIGNED_AT)),
                    _ => b.iter(|| signer.unsign_object(black_box(&signed), None, now).unwrap()),
                }
            });
        }
        group.finish();
    }
}

fn zlib(c: &mut Criterion) {
    use flate2::{Compress, Compression, FlushCompress, Status};
    use std::io::Write;
    let mut group = c.benchmark_group("zlib_level6");
    for (name, bytes) in SIZES {
        let json = sessionkit::django::json::to_python_json(&session_of(bytes));
        let fresh = |json: &[u8]| {
            let mut encoder = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(json.len() / 2),
                Compression::new(6),
            );
            encoder.write_all(json).unwrap();
            encoder.finish().unwrap()
        };
        let mut reused = Compress::new(Compression::new(6), true);
        let mut compress_reusing = |json: &[u8]| {
            reused.reset();
            let mut out = Vec::with_capacity(json.len() + 64);
            let status = reused
                .compress_vec(json, &mut out, FlushCompress::Finish)
                .unwrap();
            assert_eq!(status, Status::StreamEnd);
            out
        };
        assert_eq!(fresh(json.as_bytes()), compress_reusing(json.as_bytes()));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::new("fresh_encoder", name), |b| {
            b.iter(|| fresh(black_box(json.as_bytes())))
        });
        group.bench_function(BenchmarkId::new("reused_compress", name), |b| {
            b.iter(|| compress_reusing(black_box(json.as_bytes())))
        });
    }
    group.finish();
}

fn json_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    for (name, bytes) in SIZES {
        let data = session_of(bytes);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(BenchmarkId::new("encode_decode", name), |b| {
            b.iter(|| {
                let text = black_box(&data).to_json();
                Data::from_json(&text).unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| black_box(&data).to_json())
        });
    }
    group.finish();
}

/// Django's signing key for COOKIE_SALT, loaded into an HMAC once, as `Signer` does.
fn keyed_hmac() -> Hmac<Sha256> {
    let key = Sha256::new()
        .chain_update(COOKIE_SALT)
        .chain_update("signer")
        .chain_update(SECRET)
        .finalize();
    Hmac::new_from_slice(&key).unwrap()
}

fn floor(c: &mut Criterion) {
    let signer = cookie_signer();
    let django = Signer::new(COOKIE_SALT, SECRET, &[]);
    let data = session_of(200);
    let signed = signer.sign_object(&data, SIGNED_AT);
    // What sign and verify each MAC: the value without its last `:signature`.
    let message = signed.rsplit_once(':').unwrap().0.as_bytes().to_vec();
    let mac = keyed_hmac();
    let now = SystemTime::now();
    let json = data.to_json();
    assert_eq!(json.len(), 200);
    let mut group = c.benchmark_group("floor_200B");
    group.bench_function("sessionkit_sign_verify_payload", |b| {
        b.iter(|| {
            let value = signer.sign_payload(black_box(json.as_bytes()), SIGNED_AT);
            signer.unsign_payload(&value, None, now).unwrap()
        })
    });
    group.bench_function("sessionkit_sign_verify_with_json", |b| {
        b.iter(|| {
            let value = signer.sign_object(black_box(&data), SIGNED_AT);
            signer.unsign_object(&value, None, now).unwrap()
        })
    });
    group.bench_function("django_policy_always_try_zlib", |b| {
        b.iter(|| {
            let value = django.sign_object(black_box(&data), SIGNED_AT);
            django.unsign_object(&value, None, now).unwrap()
        })
    });
    group.bench_function("bare_format_written_out", |b| {
        b.iter(|| {
            let value = sign_uncompressed(&mac, black_box(&data), SIGNED_AT);
            verify_uncompressed(&mac, &value).unwrap()
        })
    });
    group.bench_function(
        format!("two_hmac_sha256_over_{}_bytes", message.len()),
        |b| {
            b.iter(|| {
                let mut first = mac.clone();
                first.update(black_box(&message));
                let mut second = mac.clone();
                second.update(black_box(&message));
                (
                    first.finalize().into_bytes(),
                    second.finalize().into_bytes(),
                )
            })
        },
    );
    group.finish();
}

/// Django's signed format without the zlib attempt, for `floor_200B` only: what signing costs
/// when nothing but JSON, base64 and one HMAC is done.
fn sign_uncompressed(mac: &Hmac<Sha256>, data: &Data, timestamp: u64) -> String {
    let json = data.to_json();
    let mut value = String::with_capacity(json.len() * 4 / 3 + 56);
    URL_SAFE_NO_PAD.encode_append(json.as_bytes(), &mut value);
    value.push(':');
    value.push_str(&sessionkit::django::signing::b62_encode(timestamp));
    let mut mac = mac.clone();
    mac.update(value.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode_to_string(mac.finalize().into_bytes());
    value.push(':');
    value.push_str(&signature);
    value
}

fn verify_uncompressed(mac: &Hmac<Sha256>, value: &str) -> Option<Data> {
    let (signed, signature) = value.rsplit_once(':')?;
    let mut mac = mac.clone();
    mac.update(signed.as_bytes());
    let expected = URL_SAFE_NO_PAD.encode_to_string(mac.finalize().into_bytes());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        signature.as_bytes(),
    )) {
        return None;
    }
    let (payload, timestamp) = signed.rsplit_once(':')?;
    sessionkit::django::signing::b62_decode(timestamp)?;
    let json = URL_SAFE_NO_PAD.decode_to_vec(payload).ok()?;
    Data::from_json(std::str::from_utf8(&json).ok()?).ok()
}

fn key_generation(c: &mut Criterion) {
    c.bench_function("key/generate", |b| b.iter(SessionKey::generate));
}

fn middleware(c: &mut Criterion) {
    let runtime = in_process::runtime();
    let mut group = c.benchmark_group("middleware");
    for stack in in_process::stacks(&runtime) {
        for path in in_process::PATHS {
            group.bench_function(BenchmarkId::new(stack.name, &path[1..]), |b| {
                b.iter(|| stack.call(&runtime, path))
            });
        }
    }
    group.finish();
}

/// What the revocation list (`SESSION_REVOCATION_URL`) adds to loading a signed cookie: the
/// lookup in an in-process list already holding 10,000 logged-out sessions.
fn revocation(c: &mut Criterion) {
    let runtime = in_process::runtime();
    let settings = sessionkit::Settings::new(SECRET);
    let plain = SignedCookieEngine::new(&settings);
    let list = RevocationList::new(MemoryStore::new(100_000), Duration::from_secs(5));
    let listed = SignedCookieEngine::new(&settings).with_revocations(list);
    let data = Arc::new(session_of(200));
    let changes = ChangeSet::default();
    let save = |engine: &SignedCookieEngine| {
        let request = SaveRequest {
            previous: None,
            data: &data,
            changes: &changes,
            now: time::OffsetDateTime::now_utc(),
            cookie_age: 3600,
        };
        runtime.block_on(engine.save(request)).unwrap().cookie_value
    };
    for _ in 0..10_000 {
        let cookie = save(&listed);
        runtime.block_on(listed.delete(&cookie)).unwrap();
    }
    let (plain_cookie, listed_cookie) = (save(&plain), save(&listed));
    let mut group = c.benchmark_group("revocation");
    group.bench_function("load_200B/no_list", |b| {
        b.iter(|| {
            runtime
                .block_on(plain.load(black_box(&plain_cookie)))
                .unwrap()
        })
    });
    group.bench_function("load_200B/memory_list_of_10000", |b| {
        b.iter(|| {
            runtime
                .block_on(listed.load(black_box(&listed_cookie)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = micro;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = signing, json_codec, zlib, floor, key_generation, middleware, revocation
}
criterion_main!(micro);
