//! An application's own JSON, next to sessionkit.
//!
//! `serde_json`'s `arbitrary_precision` feature changes how every crate in a build reads
//! numbers (an untagged enum or a flattened struct holding one no longer deserializes), and
//! `preserve_order` changes the order of its maps. Cargo turns a feature on for the whole build
//! when any crate asks for it, so a library must not ask. The tests of this crate read such
//! types as an application would, with sessionkit in the build, and fail if either feature is on.

use serde::Deserialize;

/// A price given either as a number or as text: an untagged enum holding a float.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Price {
    /// `2.5`
    Amount(f64),
    /// `"free"`
    Label(String),
}

/// The numbers of a cart line, flattened into it.
#[derive(Debug, PartialEq, Deserialize)]
pub struct Quantities {
    /// How many.
    pub count: u32,
    /// Its share of the cart.
    pub share: f64,
}

/// A cart line: a name and its flattened numbers.
#[derive(Debug, PartialEq, Deserialize)]
pub struct CartLine {
    /// The product.
    pub name: String,
    /// The numbers, flattened.
    #[serde(flatten)]
    pub quantities: Quantities,
    /// Its price.
    pub price: Price,
}
