//! Auth styles: the key must come in the configured header and in no other credential header.

mod common;

use common::{Http, chat_body};
use hyper::Method;
use turnout_sim::{AuthStyle, Sim, SimConfig};

const KEY: &str = "sk-side-key-1234";

async fn status(http: &Http, sim: &Sim, headers: &[(&str, &str)]) -> u16 {
    let mut headers = headers.to_vec();
    headers.push(("content-type", "application/json"));
    http.send_raw(
        Method::POST,
        &format!("{}/chat/completions", sim.url()),
        &headers,
        chat_body("m", "x").into_bytes(),
    )
    .await
    .unwrap()
    .status
}

#[tokio::test]
async fn each_style_accepts_only_its_own_header() {
    let http = Http::new();
    let bearer = format!("Bearer {KEY}");
    let candidates: [(&str, &str); 3] = [
        ("authorization", &bearer),
        ("api-key", KEY),
        ("x-api-key", KEY),
    ];
    for (style, own) in [
        (AuthStyle::Bearer, 0),
        (AuthStyle::ApiKey, 1),
        (AuthStyle::XApiKey, 2),
    ] {
        let sim = Sim::start(SimConfig::default().with_api_key(KEY).with_auth(style))
            .await
            .unwrap();
        assert_eq!(style.header(), candidates[own].0);
        assert_eq!(
            status(&http, &sim, &[candidates[own]]).await,
            200,
            "{style:?}"
        );
        assert_eq!(
            status(&http, &sim, &[]).await,
            401,
            "{style:?} without a key"
        );
        let wrong = [(candidates[own].0, "sk-wrong")];
        let wrong_bearer = [("authorization", "Bearer sk-wrong")];
        let wrong = if own == 0 { &wrong_bearer } else { &wrong };
        assert_eq!(status(&http, &sim, wrong).await, 401, "{style:?} wrong key");
        for (other, header) in candidates.iter().enumerate().filter(|(i, _)| *i != own) {
            // The right key in another provider's header is refused...
            assert_eq!(
                status(&http, &sim, &[*header]).await,
                401,
                "{style:?} via {other}"
            );
            // ...and so is any other credential header next to the right one: a leak.
            let both = [candidates[own], *header];
            assert_eq!(
                status(&http, &sim, &both).await,
                401,
                "{style:?} plus {other}"
            );
        }
        let stats = sim.stats();
        assert_eq!(stats.auth_keys_seen["1234"], 1 + 2 * 2, "{style:?}");
    }
}

#[tokio::test]
async fn without_a_key_any_header_is_accepted() {
    let sim = Sim::start(SimConfig::default().with_auth(AuthStyle::ApiKey))
        .await
        .unwrap();
    let http = Http::new();
    assert_eq!(
        status(&http, &sim, &[("authorization", "Bearer x")]).await,
        200
    );
}
