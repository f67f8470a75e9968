//! The catalogue's pages: the product list at `/` and a page per product.

use axum::extract::Path;
use axum::response::Response;
use sessionkit::SessionError;

use super::format::{escape, money};
use super::products::{PRODUCTS, find};
use super::visit::Visit;
use super::{cart, cart_contents};

/// `/`: every product, each with an "Add to cart" button.
pub async fn index(visit: Visit) -> Result<Response, SessionError> {
    let csrf_field = visit.csrf_field();
    let cards: String = PRODUCTS
        .iter()
        .map(|product| {
            format!(
                "<div class=\"card\" data-slug=\"{slug}\">
  <a href=\"{url}\">{tile}</a>
  <a href=\"{url}\"><strong>{name}</strong></a>
  <p>{blurb}</p>
  <span class=\"price\">{price}</span>
  {add}
</div>",
                slug = escape(product.slug),
                url = escape(&product.url()),
                tile = product.tile(""),
                name = escape(product.name),
                blurb = escape(product.blurb),
                price = money(product.price_cents),
                add = cart::add_form(product, &csrf_field),
            )
        })
        .collect();
    visit.page("Products", &format!("<div class=\"grid\">\n{cards}</div>"))
}

/// `/products/{slug}`: one product.
pub async fn product(visit: Visit, Path(slug): Path<String>) -> Result<Response, SessionError> {
    let Some(product) = find(&slug) else {
        return visit.not_found();
    };
    let csrf_field = visit.csrf_field();
    let in_cart = cart_contents::quantity(&visit.session, product)?;
    let in_cart = match in_cart {
        0 => String::new(),
        n => {
            format!("<p>In your cart: <strong>{n}</strong>. <a href=\"/cart\">See the cart</a></p>")
        }
    };
    let main = format!(
        "<div class=\"product\">
  {tile}
  <div>
    <p>{blurb}</p>
    <p class=\"price\">{price}</p>
    {add}
    {in_cart}
    <p><a href=\"/\">← All products</a></p>
  </div>
</div>",
        tile = product.tile("big"),
        blurb = escape(product.blurb),
        price = money(product.price_cents),
        add = cart::add_form(product, &csrf_field),
    );
    visit.page(product.name, &main)
}
