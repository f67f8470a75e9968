//! The session data every test sends across, one set per kind of value that could differ
//! between Python and Rust.
//!
//! Values are kept as the text they were written with ([`sessionkit::engine::JsonText`]), so
//! comparing two `Data` compares number text exactly: `1e-07` is not `1e-7`, and a 30-digit
//! integer must survive digit for digit. They travel to Python as that text too.

use serde_json::{Value, json};
use sessionkit::engine::Data;

pub struct DataSet {
    pub name: &'static str,
    pub data: Data,
}

impl DataSet {
    fn new(name: &'static str, json_text: &str) -> DataSet {
        let data = Data::from_json(json_text)
            .unwrap_or_else(|e| panic!("data set {name} is not a JSON object: {e}"));
        DataSet { name, data }
    }

    /// `{"name", "data"}`, as the Python programs take it: the data as its JSON text.
    pub fn request(&self) -> Value {
        json!({"name": self.name, "data": self.data.to_json()})
    }
}

/// Every data set, each in Python's own JSON form (`json.dumps(…, separators=(",", ":"))`),
/// except `unicode`, written raw here so that sessionkit's `\u` escaping is what gets tested.
pub fn all() -> Vec<DataSet> {
    vec![
        DataSet::new("empty", "{}"),
        DataSet::new(
            "unicode",
            r#"{"name":"Zoë","greek":"αβγ","cjk":"日本語","emoji":"🎉👍🏽","rtl":"שלום",
                "control":"quote \" backslash \\ slash / tab \t newline \n nul \u0000 del \u007f",
                "html":"<script>&amp;</script>","ключ 🔑":"key"}"#,
        ),
        DataSet::new(
            "nested",
            r#"{"cart":{"items":[{"sku":"A-1","qty":2,"tags":["red",null,true,false]},
                {"sku":"B-2","qty":1,"tags":[]}],"coupon":null},"deep":[[[[{"x":[1,[2,[3]]]}]]]],
                "empty_list":[],"empty_object":{}}"#,
        ),
        DataSet::new(
            "big_ints",
            r#"{"u64_plus":12345678901234567890,"thirty_digits":123456789012345678901234567890,
                "negative":-98765432109876543210,"i64_max":9223372036854775807,
                "i64_min":-9223372036854775808,"zero":0}"#,
        ),
        DataSet::new(
            "floats",
            r#"{"tiny":1e-07,"huge":1e+16,"two":2.0,"tenth":0.1,"pi":3.141592653589793,
                "negative_zero":-0.0,"just_below_1e16":9999999999999998.0,"small":0.0001,
                "max":1.7976931348623157e+308,"min_subnormal":5e-324,"third":0.3333333333333333}"#,
        ),
        DataSet::new(
            "compressible",
            &json!({"blob": "All work and no play makes Jack a dull boy. ".repeat(70)}).to_string(),
        ),
        DataSet::new("expiry_seconds", r#"{"_session_expiry":3600,"user":"a"}"#),
        DataSet::new(
            "expiry_date",
            r#"{"_session_expiry":"2099-12-31T23:59:58.123456+00:00","user":"a"}"#,
        ),
        DataSet::new(
            "expiry_browser_close",
            r#"{"_session_expiry":0,"user":"a"}"#,
        ),
    ]
}

/// Every data set in the form the Python programs take.
pub fn requests(sets: &[DataSet]) -> Value {
    Value::Array(sets.iter().map(DataSet::request).collect())
}
