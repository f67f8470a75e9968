//! The cart, kept in the session under `cart` as `{"<slug>": <quantity>}`: it follows the
//! visitor from page to page, survives login (the session's data moves to the new key) and
//! ends with logout.

use std::collections::BTreeMap;

use sessionkit::{Session, SessionError};

use super::products::Product;

/// Where the cart is kept in the session.
pub const CART_KEY: &str = "cart";

/// Quantities by product slug.
pub type Cart = BTreeMap<String, u32>;

/// The cart the session holds; none is an empty one.
pub fn load(session: &Session) -> Result<Cart, SessionError> {
    Ok(session.get(CART_KEY)?.unwrap_or_default())
}

/// Stores `cart`, or removes the key once the cart is empty.
pub fn store(session: &Session, cart: &Cart) -> Result<(), SessionError> {
    if cart.is_empty() {
        session.remove(CART_KEY);
        Ok(())
    } else {
        session.insert(CART_KEY, cart)
    }
}

/// Items in the cart, counting each unit.
pub fn item_count(session: &Session) -> Result<u32, SessionError> {
    Ok(load(session)?.values().sum())
}

/// How many of `product` the cart holds.
pub fn quantity(session: &Session, product: &Product) -> Result<u32, SessionError> {
    Ok(load(session)?.get(product.slug).copied().unwrap_or(0))
}
