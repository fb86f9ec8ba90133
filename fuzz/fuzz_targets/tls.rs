//! TLS record and handshake parsing over one stream of either direction.
#![no_main]

use capdoc::proto::tls;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(tls::looks_like_tls(data));
    std::hint::black_box(tls::reached_application_data(data));
    if let Some(hello) = tls::client_hello(data) {
        std::hint::black_box(hello.max_version.and_then(|v| v.name()));
        std::hint::black_box(hello);
    }
    if let Some(alert) = tls::client_alert(data) {
        std::hint::black_box((alert.is_fatal(), alert.name()));
    }
    if let Some(flight) = tls::server_flight(data, &mut tls::Certificates::default()) {
        if let Some(alert) = flight.alert {
            std::hint::black_box((alert.is_fatal(), alert.name()));
        }
        std::hint::black_box(flight);
    }
});
