//! The Stripe adapter against a local stand-in for Stripe's API (Stripe cannot be reached from
//! here). The stand-in answers `POST /v1/payment_intents`, `/v1/refunds`, `/v1/transfers`,
//! `/v1/accounts`, `/v1/account_links` and `GET /v1/payment_intents/{id}` with the request and
//! response shapes Stripe documents: form-encoded bodies with bracketed keys, Bearer secret
//! keys, `Idempotency-Key` replays (same key and parameters → the first response; same key and
//! other parameters → 400 `idempotency_error`), errors as `{"error": {"type", "message"}}`.
//! It records every request, so the test checks what escrow sent. For retainers it also
//! answers Stripe Billing's `POST /v1/customers`, `/v1/invoices`, `/v1/invoiceitems` and
//! `/v1/invoices/{id}/{finalize,send,void}`, with an invoice's `amount_due` the sum of its
//! items and a `hosted_invoice_url`, as Stripe does.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::Duration;
use greenlight_escrow::http::router;
use greenlight_escrow::procedures::{payout_account, pledge};
use greenlight_escrow::proposal_source::Stage;
use greenlight_escrow::provider::signature;
use greenlight_escrow::provider::stripe::{StripeConfig, StripeProvider};
use greenlight_escrow::Escrow;
use greenlight_lexicon::fund::greenlight::escrow::connect_payout_account;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;
use tower::ServiceExt;

const SECRET_KEY: &str = "sk_test_greenlight";
const WEBHOOK_SECRET: &str = "whsec_test_greenlight";

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    idempotency_key: Option<String>,
    form: HashMap<String, String>,
}

#[derive(Default)]
struct StripeState {
    requests: Vec<Recorded>,
    replies: HashMap<String, (String, HashMap<String, String>, Value)>,
    objects: HashMap<String, Value>,
    next: u32,
    fail_next_transfers: u32,
}

type Shared = Arc<Mutex<StripeState>>;

fn stripe_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": kind, "message": message}})),
    )
        .into_response()
}

async fn create(
    State(state): State<Shared>,
    Path(resource): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    handle(state, format!("/v1/{resource}"), headers, form)
}

async fn cancel(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    handle(
        state,
        format!("/v1/payment_intents/{id}/cancel"),
        headers,
        form,
    )
}

async fn invoice_action(
    State(state): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    handle(state, format!("/v1/invoices/{id}/{action}"), headers, form)
}

fn handle(
    state: Shared,
    path: String,
    headers: HeaderMap,
    form: HashMap<String, String>,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {SECRET_KEY}"))
    {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided",
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut s = state.lock().unwrap();
    s.requests.push(Recorded {
        path: path.clone(),
        idempotency_key: key.clone(),
        form: form.clone(),
    });
    if path == "/v1/transfers" && s.fail_next_transfers > 0 {
        s.fail_next_transfers -= 1;
        return stripe_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "Something went wrong",
        );
    }
    if let Some(key) = &key {
        if let Some((first_path, first_form, reply)) = s.replies.get(key) {
            if first_path == &path && first_form == &form {
                let mut response = Json(reply.clone()).into_response();
                response
                    .headers_mut()
                    .insert("idempotent-replayed", "true".parse().unwrap());
                return response;
            }
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
    }
    s.next += 1;
    let n = s.next;
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let amount = field("amount").parse::<i64>().unwrap_or(0);
    let reply = match path.as_str() {
        "/v1/payment_intents" => json!({
            "id": format!("pi_{n}"), "object": "payment_intent", "amount": amount,
            "currency": field("currency"), "status": "requires_payment_method",
            "client_secret": format!("pi_{n}_secret_abc"),
            "metadata": {"escrow_reference": field("metadata[escrow_reference]")}
        }),
        "/v1/refunds" => {
            if !s.objects.contains_key(&field("payment_intent")) {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "No such payment_intent",
                );
            }
            json!({"id": format!("re_{n}"), "object": "refund", "amount": amount, "status": "succeeded",
                   "payment_intent": field("payment_intent"),
                   "metadata": {"ledger_transfer": field("metadata[ledger_transfer]")}})
        }
        "/v1/transfers" => {
            if !s.objects.contains_key(&field("destination")) {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "No such destination",
                );
            }
            json!({"id": format!("tr_{n}"), "object": "transfer", "amount": amount,
                   "currency": field("currency"), "destination": field("destination"),
                   "transfer_group": field("transfer_group")})
        }
        "/v1/accounts" => {
            json!({"id": format!("acct_{n}"), "object": "account", "type": field("type"),
                                 "payouts_enabled": false, "details_submitted": false})
        }
        "/v1/account_links" => json!({"object": "account_link", "created": 1_700_000_000,
                                      "expires_at": 1_700_000_300,
                                      "url": format!("https://connect.stripe.com/setup/e/{}/x", field("account"))}),
        "/v1/customers" => json!({"id": format!("cus_{n}"), "object": "customer",
                                  "name": field("name"), "email": field("email")}),
        "/v1/invoices" => json!({"id": format!("in_{n}"), "object": "invoice", "status": "draft",
                                 "customer": field("customer"), "currency": field("currency"),
                                 "collection_method": field("collection_method"),
                                 "amount_due": 0, "hosted_invoice_url": null,
                                 "metadata": {"escrow_reference": field("metadata[escrow_reference]")}}),
        "/v1/invoiceitems" => {
            let invoice = field("invoice");
            let Some(object) = s.objects.get_mut(&invoice) else {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "No such invoice",
                );
            };
            let due = object["amount_due"].as_i64().unwrap_or(0) + amount;
            object["amount_due"] = json!(due);
            json!({"id": format!("ii_{n}"), "object": "invoiceitem", "invoice": invoice,
                   "amount": amount, "currency": field("currency")})
        }
        other if other.starts_with("/v1/invoices/") => {
            let mut parts = other.trim_start_matches("/v1/invoices/").split('/');
            let (id, action) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let Some(object) = s.objects.get_mut(id) else {
                return stripe_error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "No such invoice",
                );
            };
            match action {
                "finalize" => {
                    object["status"] = json!("open");
                    object["hosted_invoice_url"] =
                        json!(format!("https://invoice.stripe.com/i/{id}"));
                }
                "send" => {}
                "void" => object["status"] = json!("void"),
                _ => {
                    return stripe_error(
                        StatusCode::NOT_FOUND,
                        "invalid_request_error",
                        "Unrecognized request URL",
                    )
                }
            }
            let reply = object.clone();
            if let Some(key) = key {
                s.replies.insert(key, (path, form, reply.clone()));
            }
            return Json(reply).into_response();
        }
        other if other.ends_with("/cancel") => json!({"id": other.split('/').nth(3).unwrap_or(""),
                                                      "object": "payment_intent", "status": "canceled"}),
        _ => {
            return stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "Unrecognized request URL",
            )
        }
    };
    if let Some(id) = reply.get("id").and_then(Value::as_str) {
        s.objects.insert(id.to_owned(), reply.clone());
    }
    if let Some(key) = key {
        s.replies.insert(key, (path, form, reply.clone()));
    }
    Json(reply).into_response()
}

async fn retrieve_intent(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match state.lock().unwrap().objects.get(&id) {
        Some(object) => Json(object.clone()).into_response(),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such payment_intent",
        ),
    }
}

/// `GET /v1/transfers?transfer_group=` and `GET /v1/refunds?payment_intent=`: Stripe's list
/// shape, filtered as Stripe filters.
async fn list(
    State(state): State<Shared>,
    Path(resource): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.requests.push(Recorded {
        path: format!("GET /v1/{resource}"),
        idempotency_key: None,
        form: query.clone(),
    });
    let prefix = match resource.as_str() {
        "transfers" => "tr_",
        "refunds" => "re_",
        _ => {
            return stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "Unrecognized request URL",
            )
        }
    };
    let data: Vec<Value> = s
        .objects
        .iter()
        .filter(|(id, _)| id.starts_with(prefix))
        .map(|(_, object)| object.clone())
        .filter(|object| {
            query
                .iter()
                .filter(|(k, _)| *k != "limit")
                .all(|(k, v)| object.get(k).and_then(Value::as_str) == Some(v))
        })
        .collect();
    Json(json!({"object": "list", "url": format!("/v1/{resource}"), "has_more": false, "data": data}))
        .into_response()
}

async fn start_stand_in() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/payment_intents/{id}", get(retrieve_intent))
        .route("/v1/payment_intents/{id}/cancel", post(cancel))
        .route("/v1/invoices/{id}/{action}", post(invoice_action))
        .route("/v1/{resource}", post(create).get(list))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn event(kind: &str, object: Value) -> Vec<u8> {
    json!({"id": format!("evt_{}", uuid_suffix()), "object": "event", "type": kind,
           "created": START, "data": {"object": object}})
    .to_string()
    .into_bytes()
}

fn uuid_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("stripe{}", N.fetch_add(1, Ordering::Relaxed))
}

/// An escrow paying through the Stripe adapter, pointed at a fresh stand-in for Stripe's API:
/// the harness (its escrow replaced), the escrow, its router (for webhooks) and the stand-in.
async fn stripe_escrow(pool: PgPool) -> (Harness, Arc<Escrow>, axum::Router, Shared) {
    let (api_base, stripe) = start_stand_in().await;
    let h = Harness::new(pool).await;
    let provider = Arc::new(StripeProvider::new(StripeConfig {
        api_base,
        secret_key: SECRET_KEY.into(),
        publishable_key: "pk_test_greenlight".into(),
        webhook_secret: WEBHOOK_SECRET.into(),
        public_url: "http://127.0.0.1:2585".into(),
    }));
    let escrow = Arc::new(
        Escrow::new(h.pool.clone(), config(), h.proposals.clone())
            .unwrap()
            .with_clock(h.clock.clone())
            .with_provider(provider),
    );
    let h = Harness {
        escrow: escrow.clone(),
        ..h
    };
    let app = router(escrow.clone());
    (h, escrow, app, stripe)
}

/// Delivers a webhook with its `Stripe-Signature` header, as Stripe would.
async fn deliver_to(app: &axum::Router, body: Vec<u8>, header: String) -> StatusCode {
    app.clone()
        .oneshot(
            Request::post("/webhooks/stripe")
                .header("stripe-signature", header)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn the_stripe_adapter_speaks_stripes_wire_format(pool: PgPool) {
    let (h, escrow, app, stripe) = stripe_escrow(pool).await;
    let deliver = |body: Vec<u8>, header: String| deliver_to(&app, body, header);
    let sign = |body: &[u8]| signature::sign(WEBHOOK_SECRET.as_bytes(), h.now().timestamp(), body);

    // Onboarding: an Express account and its link; active once Stripe says payouts are enabled.
    let account = payout_account::connect_payout_account(
        &escrow,
        MAINTAINER,
        &connect_payout_account::Input {
            provider: Some("stripe".into()),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    assert_eq!(account.status, "pending");
    assert!(account
        .onboarding_url
        .as_deref()
        .unwrap()
        .starts_with("https://connect.stripe.com/"));
    let wrong = payout_account::connect_payout_account(
        &escrow,
        MAINTAINER,
        &connect_payout_account::Input {
            provider: Some("sandbox".into()),
            idempotency_key: h.key(),
        },
    )
    .await;
    assert_eq!(error_name(wrong), "UnsupportedProvider");
    let updated = event(
        "account.updated",
        json!({"id": account.account_id, "object": "account", "payouts_enabled": true}),
    );
    assert_eq!(
        deliver(updated.clone(), sign(&updated)).await,
        StatusCode::OK
    );

    // A pledge is a PaymentIntent, keyed by the pledge id.
    let uri = h.preview(1);
    let created = h.pending_pledge("did:plc:alice", &uri, 12_345).await;
    let intent = {
        let s = stripe.lock().unwrap();
        let request = s
            .requests
            .iter()
            .find(|r| r.path == "/v1/payment_intents")
            .unwrap()
            .clone();
        assert_eq!(
            request.idempotency_key.as_deref(),
            Some(created.id.as_str())
        );
        assert_eq!(request.form["amount"], "12345");
        assert_eq!(request.form["currency"], "usd");
        assert_eq!(request.form["metadata[escrow_reference]"], created.id);
        assert_eq!(request.form["automatic_payment_methods[enabled]"], "true");
        s.objects
            .keys()
            .find(|id| id.starts_with("pi_"))
            .unwrap()
            .clone()
    };
    let page = escrow
        .provider
        .checkout_page(&intent)
        .await
        .unwrap()
        .unwrap();
    assert!(page.contains("pi_") && page.contains("_secret_") && page.contains("js.stripe.com"));

    // The success webhook, with a rolled secret's stale signature beside the good one.
    let succeeded = event(
        "payment_intent.succeeded",
        json!({"id": intent, "object": "payment_intent", "amount": 12_345, "amount_received": 12_345, "currency": "usd"}),
    );
    let good = sign(&succeeded);
    let rolled = format!(
        "{},v1={}",
        good,
        hex_of(&signature::sign(
            b"whsec_old",
            h.now().timestamp(),
            &succeeded
        ))
    );
    let stale = signature::sign(
        WEBHOOK_SECRET.as_bytes(),
        h.now().timestamp() - 301,
        &succeeded,
    );
    assert_eq!(
        deliver(succeeded.clone(), stale).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(deliver(succeeded.clone(), rolled).await, StatusCode::OK);
    assert_eq!(h.pledge(&created.id).await.state, "held");

    // Release, verification, payout: one transfer, retried after a 500 with the same key.
    h.set_stage(&uri, Stage::Released);
    h.tick().await.unwrap();
    h.advance(Duration::days(14));
    stripe.lock().unwrap().fail_next_transfers = 1;
    let report = h.tick().await.unwrap();
    assert_eq!(report.jobs.postponed, 1);
    h.advance(Duration::minutes(5));
    let report = h.tick().await.unwrap();
    assert_eq!(report.jobs.done, 1);
    {
        let s = stripe.lock().unwrap();
        let transfers: Vec<&Recorded> = s
            .requests
            .iter()
            .filter(|r| r.path == "/v1/transfers")
            .collect();
        assert_eq!(transfers.len(), 2);
        assert_eq!(transfers[0].idempotency_key, transfers[1].idempotency_key);
        let key = transfers[0].idempotency_key.clone().unwrap();
        assert!(key.ends_with(":payout"), "{key}");
        assert_eq!(transfers[1].form["destination"], account.account_id);
        assert_eq!(transfers[1].form["amount"], "11728"); // 12 345 − floor(617.25)
        assert_eq!(transfers[1].form["transfer_group"], key);
        assert_eq!(
            s.objects.keys().filter(|id| id.starts_with("tr_")).count(),
            1
        );
        // Before retrying, escrow asked Stripe whether the transfer already exists.
        let lookup = s
            .requests
            .iter()
            .find(|r| r.path == "GET /v1/transfers")
            .unwrap();
        assert_eq!(lookup.form["transfer_group"], key);
    }

    // A declined proposal: the refund names the PaymentIntent, keyed by the ledger transfer.
    let second = h.preview(2);
    let refunded = h.pending_pledge("did:plc:bob", &second, 5_000).await;
    let intent = stripe
        .lock()
        .unwrap()
        .objects
        .keys()
        .filter(|id| id.starts_with("pi_"))
        .max()
        .unwrap()
        .clone();
    let paid = event(
        "payment_intent.succeeded",
        json!({"id": intent, "object": "payment_intent", "amount": 5_000, "currency": "usd"}),
    );
    assert_eq!(deliver(paid.clone(), sign(&paid)).await, StatusCode::OK);
    assert_eq!(deliver(paid.clone(), sign(&paid)).await, StatusCode::OK);
    h.set_stage(&second, Stage::Declined);
    h.tick().await.unwrap();
    {
        let s = stripe.lock().unwrap();
        let refunds: Vec<&Recorded> = s
            .requests
            .iter()
            .filter(|r| r.path == "/v1/refunds")
            .collect();
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0].form["payment_intent"], intent);
        assert_eq!(refunds[0].form["amount"], "5000");
        assert_eq!(
            refunds[0].idempotency_key.clone().unwrap(),
            format!("{}:refund-payment", refunded.id)
        );
    }
    assert_eq!(h.pledge(&refunded.id).await.state, "refunded");
    // A refusal (a 4xx: Stripe no longer knows the payment) fails the job for an operator
    // instead of retrying forever; the money stays owed to the backer, visibly.
    let third = h.preview(3);
    let orphan = pledge::create_pledge(&escrow, "did:plc:carol", &h.pledge_input(&third, 900))
        .await
        .unwrap();
    let intent = stripe
        .lock()
        .unwrap()
        .objects
        .keys()
        .filter(|id| id.starts_with("pi_"))
        .max()
        .unwrap()
        .clone();
    let paid = event(
        "payment_intent.succeeded",
        json!({"id": intent, "object": "payment_intent", "amount": 900, "currency": "usd"}),
    );
    assert_eq!(deliver(paid.clone(), sign(&paid)).await, StatusCode::OK);
    stripe.lock().unwrap().objects.remove(&intent);
    h.set_stage(&third, Stage::Declined);
    assert_eq!(h.tick().await.unwrap().jobs.failed, 1);
    let job: (String, Option<String>) =
        sqlx::query_as("SELECT state, last_error FROM escrow.job WHERE pledge = $1")
            .bind(&orphan.id)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(job.0, "failed");
    assert!(job.1.unwrap().contains("No such payment_intent"));
    assert_eq!(
        h.balance("refunds:did:plc:carol").await.credit_balance(),
        900
    );
    h.assert_books_sound().await;
}

fn hex_of(header: &str) -> String {
    header.split_once("v1=").unwrap().1.to_owned()
}

/// Retainers on Stripe Billing: each period is one finalized invoice of one customer per
/// agreement, sent for bank transfer (`send_invoice`, due in 14 days); `invoice.paid` books
/// the period and pays the maintainer's connected account minus the fee; an invoice unpaid
/// when due is voided and the agreement is past due.
#[sqlx::test(migrator = "greenlight_escrow::MIGRATOR")]
async fn retainer_invoices_go_through_stripe_billing(pool: PgPool) {
    use greenlight_escrow::procedures::retainer as procedures;
    use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::BillingDetails;
    use greenlight_lexicon::fund::greenlight::escrow::{request_quote, start_retainer};

    let (h, escrow, app, stripe) = stripe_escrow(pool).await;
    let deliver = |body: Vec<u8>| {
        let header = signature::sign(WEBHOOK_SECRET.as_bytes(), h.now().timestamp(), &body);
        deliver_to(&app, body, header)
    };
    let account = payout_account::connect_payout_account(
        &escrow,
        MAINTAINER,
        &connect_payout_account::Input {
            provider: Some("stripe".into()),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let updated = event(
        "account.updated",
        json!({"id": account.account_id, "object": "account", "payouts_enabled": true}),
    );
    assert_eq!(deliver(updated).await, StatusCode::OK);
    let offer = "at://did:plc:maintainer/fund.greenlight.retainerOffer/3kstripe";
    h.proposals.put_offer(offers::offer(
        offer,
        vec![offers::tier("Partner", 150_000, None)],
    ));
    let quote = procedures::request_quote(
        &escrow,
        "did:plc:acme",
        &request_quote::Input {
            offer: strong_ref(offer),
            tier: "Partner".into(),
            billing: BillingDetails {
                legal_name: "Acme Corporation".into(),
                address: "1 Market Street".into(),
                tax_id: None,
                purchase_order: Some("PO-7".into()),
                email: Some("ap@acme.example".into()),
            },
            collection: "invoice".into(),
            listed_publicly: Some(false),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let started = procedures::start_retainer(
        &escrow,
        "did:plc:acme",
        &start_retainer::Input {
            agreement: quote.id.clone(),
            idempotency_key: h.key(),
        },
    )
    .await
    .unwrap();
    let invoice_number = started.invoices.as_ref().unwrap()[0].number.clone();
    let stripe_invoice = {
        let s = stripe.lock().unwrap();
        let paths: Vec<&str> = s.requests.iter().map(|r| r.path.as_str()).collect();
        let customer = s
            .requests
            .iter()
            .find(|r| r.path == "/v1/customers")
            .unwrap();
        assert_eq!(customer.form["name"], "Acme Corporation");
        assert_eq!(customer.form["email"], "ap@acme.example");
        assert_eq!(
            customer.idempotency_key.as_deref(),
            Some(format!("customer-{}", quote.id).as_str())
        );
        let invoice = s
            .requests
            .iter()
            .find(|r| r.path == "/v1/invoices")
            .unwrap();
        assert_eq!(invoice.form["collection_method"], "send_invoice");
        assert_eq!(invoice.form["days_until_due"], "14");
        assert_eq!(invoice.form["currency"], "usd");
        assert_eq!(invoice.form["metadata[escrow_reference]"], invoice_number);
        assert_eq!(
            invoice.idempotency_key.as_deref(),
            Some(format!("{invoice_number}:attempt:0:invoice").as_str())
        );
        let item = s
            .requests
            .iter()
            .find(|r| r.path == "/v1/invoiceitems")
            .unwrap();
        assert_eq!(item.form["amount"], "150000");
        let id = s
            .objects
            .keys()
            .find(|id| id.starts_with("in_"))
            .unwrap()
            .clone();
        assert!(paths.contains(&format!("/v1/invoices/{id}/finalize").as_str()));
        assert!(paths.contains(&format!("/v1/invoices/{id}/send").as_str()));
        id
    };
    assert_eq!(
        started.payment_url.as_deref(),
        Some(format!("https://invoice.stripe.com/i/{stripe_invoice}").as_str()),
        "the client pays on Stripe's hosted invoice page"
    );

    // Paid by bank transfer: the period is booked and paid out minus the fee.
    let paid = event(
        "invoice.paid",
        json!({"id": stripe_invoice, "object": "invoice", "amount_paid": 150_000, "currency": "usd", "status": "paid"}),
    );
    assert_eq!(deliver(paid.clone()).await, StatusCode::OK);
    assert_eq!(
        deliver(paid).await,
        StatusCode::OK,
        "a redelivery is a duplicate"
    );
    h.tick().await.unwrap();
    {
        let s = stripe.lock().unwrap();
        let transfers: Vec<&Recorded> = s
            .requests
            .iter()
            .filter(|r| r.path == "/v1/transfers")
            .collect();
        assert_eq!(transfers.len(), 1);
        assert_eq!(transfers[0].form["amount"], "142500");
        assert_eq!(transfers[0].form["destination"], account.account_id);
        assert_eq!(
            transfers[0].idempotency_key.as_deref(),
            Some(format!("{invoice_number}:payout").as_str())
        );
    }

    // The next period's invoice is never paid: when due it is voided at Stripe, and the
    // agreement is past due.
    h.advance(Duration::days(31));
    h.tick().await.unwrap();
    let second = stripe
        .lock()
        .unwrap()
        .objects
        .keys()
        .filter(|id| id.starts_with("in_"))
        .max_by_key(|id| id.trim_start_matches("in_").parse::<u32>().unwrap_or(0))
        .unwrap()
        .clone();
    assert_ne!(second, stripe_invoice);
    h.advance(Duration::days(14));
    h.tick().await.unwrap();
    assert_eq!(stripe.lock().unwrap().objects[&second]["status"], "void");
    let now = procedures::get_retainer_agreement(&escrow, MAINTAINER, &quote.id)
        .await
        .unwrap();
    assert_eq!(now.state, "past_due");
    // Stripe's own report of the voided invoice changes nothing more.
    let voided = event(
        "invoice.voided",
        json!({"id": second, "object": "invoice", "status": "void"}),
    );
    assert_eq!(deliver(voided).await, StatusCode::OK);
    let again = procedures::get_retainer_agreement(&escrow, MAINTAINER, &quote.id)
        .await
        .unwrap();
    assert_eq!(
        (again.state.as_str(), again.failed_attempts),
        ("past_due", Some(1))
    );
    h.assert_books_sound().await;
}
