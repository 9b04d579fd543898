//! Fuzzes the registry's request parsing: arbitrary bytes as a registration body and as a
//! product document, and as an id and a URL. Nothing may panic, and what is accepted must
//! hold up: a stored registration parses again to the same widget, an accepted widget
//! passes the shared element rules, and an accepted remote URL passes the host check
//! `dappctl validate` runs from the text alone.
//!
//! An input is `ID\nBODY`: the first line is tried as an id and a URL, the rest as both
//! bodies (the whole input too, so that a body without a newline is reached directly).

#![no_main]

use libfuzzer_sys::fuzz_target;

use registry::catalog::parse_product;
use registry::input::{check_remote_url, check_url};
use registry::service::parse_registration;
use registry::ttl::TtlPolicy;
use registry_api::address::{check_url_host, parse_ipv4, refused_host, url_host};
use registry_api::text::{IdKind, check_id};
use registry_api::widget::parse_markup;

fn bodies(body: &[u8], product_id: &str) {
    let policy = TtlPolicy::default();
    if let Ok(reg) = parse_registration(body, &policy) {
        if let Some(widget) = &reg.widget {
            assert_eq!(widget.check(), Ok(()), "accepted widget breaks the rules");
            assert_eq!(parse_markup(&widget.to_markup()).as_ref(), Ok(widget));
        }
        let again = parse_registration(reg.service.get().as_bytes(), &policy)
            .expect("a stored registration parses again");
        assert_eq!(again.widget, reg.widget);
        assert_eq!(again.service.get(), reg.service.get());
    }
    if let Ok(product) = parse_product(product_id, body) {
        let again = parse_product(product_id, product.spec.get().as_bytes())
            .expect("a stored product parses again");
        assert_eq!(again.spec.get(), product.spec.get());
    }
}

fuzz_target!(|data: &[u8]| {
    let (first, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let line = String::from_utf8_lossy(first);
    let product_id = if check_id(IdKind::Product, &line).is_ok() {
        line.to_string()
    } else {
        "p".to_owned()
    };
    let _ = check_id(IdKind::Registration, &line);
    if check_remote_url("u", &line).is_ok() {
        assert_eq!(check_url("u", &line), Ok(()));
        assert_eq!(check_url_host("u", &line), Ok(()));
    }
    if let Some(host) = url_host(&line) {
        let _ = refused_host(host);
    }
    let _ = parse_ipv4(&line);
    let _ = parse_markup(&line);
    bodies(rest, &product_id);
    bodies(data, "p");
});
