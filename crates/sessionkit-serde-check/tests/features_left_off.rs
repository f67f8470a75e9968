//! With sessionkit in the build, serde_json behaves as with its default features.

use serde_json::json;
use sessionkit::{EngineKind, Sessions, Settings};
use sessionkit_serde_check::{CartLine, Price, Quantities};

fn line() -> CartLine {
    CartLine {
        name: "tea".to_owned(),
        quantities: Quantities {
            count: 3,
            share: 0.25,
        },
        price: Price::Amount(2.5),
    }
}

const LINE: &str = r#"{"name": "tea", "count": 3, "share": 0.25, "price": 2.5}"#;

#[test]
fn an_untagged_enum_holding_a_float_deserializes() {
    assert_eq!(
        serde_json::from_str::<Price>("2.5").unwrap(),
        Price::Amount(2.5)
    );
    assert_eq!(
        serde_json::from_str::<Price>(r#""free""#).unwrap(),
        Price::Label("free".to_owned())
    );
    assert_eq!(
        serde_json::from_value::<Price>(json!(2.5)).unwrap(),
        Price::Amount(2.5)
    );
}

#[test]
fn a_flattened_struct_with_numbers_deserializes() {
    assert_eq!(serde_json::from_str::<CartLine>(LINE).unwrap(), line());
    let value: serde_json::Value = serde_json::from_str(LINE).unwrap();
    assert_eq!(serde_json::from_value::<CartLine>(value).unwrap(), line());
}

#[test]
fn serde_json_maps_keep_their_default_sorted_order() {
    let value = json!({"zebra": 1, "apple": 2});
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apple", "zebra"], "preserve_order is off");
}

#[tokio::test]
async fn the_same_types_come_back_out_of_a_session_in_their_order() {
    let sessions = Sessions::open(Settings {
        engine: EngineKind::SignedCookies,
        ..Settings::new("serde-check-secret")
    })
    .await
    .unwrap();
    let session = sessions.start(None).load().await.unwrap();
    session.insert("zebra", 1).unwrap();
    session
        .insert(
            "line",
            serde_json::from_str::<serde_json::Value>(LINE).unwrap(),
        )
        .unwrap();
    session.insert("apple", u128::MAX).unwrap();
    let cookie = session.save().await.unwrap().unwrap();

    let next = sessions.start(Some(&cookie)).load().await.unwrap();
    assert_eq!(
        next.keys(),
        ["zebra", "line", "apple"],
        "sessions keep their own order"
    );
    assert_eq!(next.get::<CartLine>("line").unwrap(), Some(line()));
    assert_eq!(
        next.get::<u128>("apple").unwrap(),
        Some(u128::MAX),
        "every digit kept"
    );
}
