//! D. Encoding and bad input (items 23–25): every JSON value survives a round trip; a
//! malformed cookie or a value that is not a key gives a fresh empty session, a warning and no
//! panic, and touches no record.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Harness;
use crate::engine::SessionKey;
use crate::engine::{Data, JsonText};

/// Item 23: Round trip through save and the next request: ints (beyond 2^63 and 64 bits too),
/// floats (beyond what a float holds too: Python would write those as `Infinity`), BMP and astral unicode, escapes, nested arrays and objects, a 3 KB compressible
/// string (800 bytes where the cookie holds the data uncompressed: `encrypted_cookies`, as
/// compressing before encrypting leaks through length), in insertion order.
pub async fn every_kind_of_json_value_survives_a_round_trip(h: &Harness) {
    // signed_cookies compresses as Django does; the other cookie engines hold the JSON as is.
    let compressed_cookie = h.engine().name() == "signed_cookies";
    let repeats = if h.server_side() || compressed_cookie {
        400
    } else {
        100
    };
    let value = |value: Value| JsonText::new(&value).expect("JSON a session holds");
    let text = |text: &str| JsonText::parse_json(text).expect("JSON a session holds");
    let entries = [
        ("zero", value(json!(0))),
        ("negative", value(json!(-17))),
        ("i64_max", value(json!(i64::MAX))),
        ("i64_min", value(json!(i64::MIN))),
        ("two_to_the_63", value(json!(9_223_372_036_854_775_808_u64))),
        ("beyond_2_63", text("12345678901234567890")),
        ("u64_max", value(json!(u64::MAX))),
        ("thirty_digits", text("123456789012345678901234567890")),
        (
            "minus_thirty_digits",
            text("-123456789012345678901234567890"),
        ),
        ("half", value(json!(0.5))),
        ("third", value(json!(1.0 / 3.0))),
        ("tiny", value(json!(1e-7))),
        ("huge", value(json!(1.5e300))),
        ("beyond_a_float", text("1e400")),
        ("minus_beyond_a_float", text("-2.5e999")),
        ("two", value(json!(2.0))),
        ("negative_float", value(json!(-2.5))),
        ("empty_string", value(json!(""))),
        ("bmp", value(json!("Zoë – 東京 ☃ \u{ffff}"))),
        ("emoji", value(json!("🍕😀 👨‍👩‍👧"))),
        ("escapes", value(json!("\" \\ / \n \t \u{0} \u{7f}"))),
        ("literals", value(json!([true, false, null]))),
        (
            "nested",
            text(
                r#"{"list": [1, [2, [3, {"deep": "yes"}]], {}, []], "map": {"z": 1, "a": {"b": [0.25]}}}"#,
            ),
        ),
        ("compressible", value(json!("session ".repeat(repeats)))),
        ("clé_🔑", value(json!("non-ASCII key"))),
    ];
    let session = h.fresh().await;
    for (key, value) in &entries {
        session.insert_json(key, value.clone());
    }
    // Typed values take the same path through `insert`.
    session.insert("u128", u128::MAX).unwrap();
    session.insert("i128", i128::MIN).unwrap();
    let cookie = h.save(&session).await;
    if compressed_cookie {
        assert!(cookie.starts_with('.'), "compressible data is compressed");
    }

    let next = h.reload(&cookie).await;
    let mut keys: Vec<&str> = entries.iter().map(|(key, _)| *key).collect();
    keys.extend(["u128", "i128"]);
    assert_eq!(next.keys(), keys, "insertion order");
    for (key, value) in &entries {
        assert_eq!(next.get_json(key).as_ref(), Some(value), "{key}");
    }
    let as_python_writes = |key| next.get_json(key).expect(key).to_string();
    assert_eq!(as_python_writes("tiny"), "1e-07");
    assert_eq!(as_python_writes("two"), "2.0");
    assert_eq!(
        as_python_writes("thirty_digits"),
        "123456789012345678901234567890"
    );
    assert_eq!(as_python_writes("beyond_a_float"), "1e400");
    assert_eq!(
        as_python_writes("nested"),
        r#"{"list":[1,[2,[3,{"deep":"yes"}]],{},[]],"map":{"z":1,"a":{"b":[0.25]}}}"#,
        "nested objects keep their order"
    );
    assert_eq!(next.get::<u128>("u128").unwrap(), Some(u128::MAX));
    assert_eq!(next.get::<i128>("i128").unwrap(), Some(i128::MIN));
}

/// Item 23: An empty session survives the engine's round trip.
pub async fn an_empty_session_survives_a_round_trip_through_the_engine(h: &Harness) {
    let cookie = h.store(&Data::new(), OffsetDateTime::now_utc()).await;
    let loaded = h.engine().load(&cookie).await.unwrap();
    assert_eq!(loaded.map(|l| (*l.data).clone()), Some(Data::new()));
    assert!(h.engine().exists(&cookie).await.unwrap());
}

/// Item 25: Malformed cookie values (empty, only separators, 100 KB, not base64, not UTF-8 text)
/// give a fresh session and, unless empty, a warning.
pub async fn malformed_cookie_values_give_a_fresh_session(h: &Harness) {
    let values = [
        String::new(),
        ":".to_owned(),
        "::".to_owned(),
        ":::::::::".to_owned(),
        "a".repeat(100 * 1024),
        "x:".repeat(50 * 1024),
        "!!!!not*base64!!!!:!!!!:!!!!".to_owned(),
        "\u{fffd}\u{fffd}\u{fffd}:\u{fffd}:\u{fffd}\u{fffd}\u{fffd}\u{fffd}".to_owned(),
        "Ã©Ã©Ã©Ã©:Ã©:Ã©Ã©Ã©".to_owned(),
        "\0\0\0\0\0\0\0\0\0".to_owned(),
        "%ff%fe%fd:%ff:%ff%ff%ff".to_owned(),
    ];
    for value in &values {
        let what = format!("{:?}", truncated(value));
        h.assert_no_session(value, &what, !value.is_empty()).await;
    }
}

fn truncated(value: &str) -> String {
    value.chars().take(40).collect()
}

/// Item 25 (server engines): Values that are not keys — path tricks, other characters, SQL, 100 KB,
/// text that is not plain ASCII — give a fresh session and a warning, and touch no record.
pub async fn garbage_keys_give_a_fresh_session(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let values = [
        "../../etc/passwd".to_owned(),
        "abcd/efgh".to_owned(),
        "..".to_owned(),
        "abcdefgh/..".to_owned(),
        "abc\\defghij".to_owned(),
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345".to_owned(),
        "abcdefgh' OR '1'='1".to_owned(),
        "abcdefgh; DROP TABLE sessions".to_owned(),
        "a".repeat(100 * 1024),
        "a".repeat(41),
        "abcdéfghijkl".to_owned(),
        "abc\0defghij".to_owned(),
        "\u{fffd}".repeat(12),
        "Ã©Ã©Ã©Ã©Ã©Ã©".to_owned(),
        format!(" {cookie} "),
        format!("{cookie}\n"),
    ];
    for value in &values {
        let what = format!("{:?}", truncated(value));
        h.assert_no_session(value, &what, true).await;
    }
    assert!(
        h.engine().exists(&cookie).await.unwrap(),
        "the store is intact"
    );
}

/// Item 24 (server engines): A key with one character changed, added or removed, or in upper case,
/// finds nothing; the original still does.
pub async fn a_changed_key_finds_nothing(h: &Harness) {
    let cookie = h.saved(json!({"user_id": 42})).await;
    let well_formed = [
        ("one character changed", {
            let mut key = cookie.clone().into_bytes();
            key[5] = if key[5] == b'a' { b'b' } else { b'a' };
            String::from_utf8(key).expect("ASCII")
        }),
        ("one character appended", format!("{cookie}a")),
        ("one character prepended", format!("a{cookie}")),
        (
            "last character removed",
            cookie[..cookie.len() - 1].to_owned(),
        ),
        ("reversed", cookie.chars().rev().collect()),
        ("another key", SessionKey::generate().as_str().to_owned()),
    ];
    for (what, value) in &well_formed {
        h.assert_no_session(value, what, false).await;
    }
    h.assert_no_session(&cookie.to_uppercase(), "upper-cased", true)
        .await;
    assert_eq!(
        h.reload(&cookie).await.get::<i64>("user_id").unwrap(),
        Some(42)
    );
}
