//! The cart's pages and buttons: adding and removing products, and the cart at `/cart`.

use axum::Form;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sessionkit::SessionError;
use sessionkit::django::messages::{self, Level};

use super::cart_contents::{load, store};
use super::format::{escape, money};
use super::products::{self, PRODUCTS, Product};
use super::visit::Visit;

/// Most of one product a cart holds.
const MAX_QUANTITY: u32 = 99;

/// The "Add to cart" button for `product`.
pub fn add_form(product: &Product, csrf_field: &str) -> String {
    item_form("/cart/add", product, csrf_field, "", "Add to cart")
}

fn item_form(
    action: &str,
    product: &Product,
    csrf_field: &str,
    class: &str,
    label: &str,
) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\">{csrf_field}\
<input type=\"hidden\" name=\"slug\" value=\"{slug}\"><button class=\"{class}\">{label}</button></form>",
        slug = escape(product.slug),
    )
}

/// The form of the add and remove buttons.
#[derive(Deserialize)]
pub struct Item {
    slug: String,
}

/// `POST /cart/add`: one more of a product, then the cart.
pub async fn add(visit: Visit, Form(item): Form<Item>) -> Result<Response, SessionError> {
    if let Some(product) = products::find(&item.slug) {
        let text = format!("Added {} to your cart.", product.name);
        messages::add(&visit.session, Level::SUCCESS, text)?;
    }
    change(visit, &item, |quantity| {
        *quantity = (*quantity + 1).min(MAX_QUANTITY);
    })
}

/// `POST /cart/remove`: the product's line goes, then the cart.
pub async fn remove(visit: Visit, Form(item): Form<Item>) -> Result<Response, SessionError> {
    change(visit, &item, |quantity| *quantity = 0)
}

/// Applies `edit` to the quantity of the item's product (a line at 0 goes) and shows the cart.
fn change(
    visit: Visit,
    item: &Item,
    edit: impl FnOnce(&mut u32),
) -> Result<Response, SessionError> {
    let Some(product) = products::find(&item.slug) else {
        return visit.not_found();
    };
    let mut cart = load(&visit.session)?;
    let quantity = cart.entry(product.slug.to_owned()).or_default();
    edit(quantity);
    if *quantity == 0 {
        cart.remove(product.slug);
    }
    store(&visit.session, &cart)?;
    Ok(Redirect::to("/cart").into_response())
}

/// `GET /cart`: the lines, in catalogue order, with a total.
pub async fn show(visit: Visit) -> Result<Response, SessionError> {
    let cart = load(&visit.session)?;
    if cart.is_empty() {
        return visit.page(
            "Your cart",
            "<p id=\"empty-cart\">Your cart is empty. <a href=\"/\">Browse the products</a>.</p>",
        );
    }
    let csrf_field = visit.csrf_field();
    let lines: Vec<(&Product, u32)> = PRODUCTS
        .iter()
        .filter_map(|product| cart.get(product.slug).map(|&n| (product, n)))
        .collect();
    let total: u32 = lines.iter().map(|(p, n)| p.price_cents * n).sum();
    let rows: String = lines
        .iter()
        .map(|&(product, quantity)| {
            format!(
                "<tr class=\"cart-line\" data-slug=\"{slug}\"><td><a href=\"{url}\">{name}</a></td>\
<td class=\"num\">{quantity}</td><td class=\"num\">{price}</td><td class=\"num\">{subtotal}</td><td>{remove}</td></tr>\n",
                slug = escape(product.slug),
                url = escape(&product.url()),
                name = escape(product.name),
                price = money(product.price_cents),
                subtotal = money(product.price_cents * quantity),
                remove = item_form("/cart/remove", product, &csrf_field, "quiet", "Remove"),
            )
        })
        .collect();
    let main = format!(
        "<table>
<thead><tr><th>Product</th><th class=\"num\">Quantity</th><th class=\"num\">Price</th><th class=\"num\">Subtotal</th><th></th></tr></thead>
<tbody>
{rows}</tbody>
<tfoot><tr><th colspan=\"3\">Total</th><th class=\"num\" id=\"cart-total\">{total}</th><th></th></tr></tfoot>
</table>
<p>This is a demo: there is no checkout. <a href=\"/\">Keep shopping</a>.</p>",
        total = money(total),
    );
    visit.page("Your cart", &main)
}
