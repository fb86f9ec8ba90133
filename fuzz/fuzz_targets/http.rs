//! HTTP (proxy) conversations. The first two bytes say where the rest splits
//! into the client stream and the server stream; the whole rest is also read
//! as a proxy auto-config script.
#![no_main]

use capdoc::proto::{self, http};
use capdoc::shared::Names;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*head)) % (rest.len() + 1);
    let (client, server) = rest.split_at(at);

    let mut names = Names::default();
    let conversation = http::conversation(client, server, &mut names);
    // Offsets it reports must lie inside the streams they index.
    if let Some((c, s)) = conversation.tunnel {
        assert!(
            c <= client.len() && s <= server.len(),
            "tunnel offsets {c},{s} out of range"
        );
    }
    for exchange in &conversation.exchanges {
        assert!(exchange.request.offset as usize <= client.len());
        if let Some(response) = &exchange.response {
            assert!(response.offset as usize <= server.len());
        }
    }
    std::hint::black_box(conversation.is_proxy_use());
    std::hint::black_box(http::looks_like_request(client));
    std::hint::black_box(http::looks_like_request(rest));
    std::hint::black_box(proto::handshake_complete(client, server, &mut names));

    let pac = String::from_utf8_lossy(rest);
    std::hint::black_box(http::pac_proxies(&pac));
});
