//! A stand-in for the AppView on a local port, for tests that run the escrow binary (which
//! asks the AppView over HTTP): it answers `fund.greenlight.getProposal` with whole proposal
//! views built from the generated lexicon types, as the real AppView does.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use greenlight_escrow::proposal_source::Stage;
use greenlight_lexicon::fund::greenlight::get_proposal;
use greenlight_tests::proposal_views::{preview, project_subject, proposal_view};

use super::MAINTAINER;

/// The AppView stand-in; every proposal asked for is in one stage the test moves.
pub struct AppViewStandIn {
    /// Its base URL, for `GREENLIGHT_APPVIEW_URL`.
    pub url: String,
    stage: Arc<Mutex<Stage>>,
}

#[derive(Clone)]
struct Answer {
    stage: Arc<Mutex<Stage>>,
    ends_at: String,
}

async fn get_proposal(
    State(answer): State<Answer>,
    Query(params): Query<get_proposal::Params>,
) -> Json<get_proposal::Output> {
    let stage = *answer.stage.lock().unwrap();
    let mut view = proposal_view(
        &params.uri,
        stage.as_str(),
        "USD",
        project_subject(
            &format!("at://{MAINTAINER}/fund.greenlight.project/app"),
            true,
        ),
    );
    view.preview = Some(preview(&answer.ends_at));
    Json(view)
}

impl AppViewStandIn {
    /// Starts serving every proposal in `stage`, about [`MAINTAINER`]'s proven project, in
    /// USD, with a preview that ends a day from now (by the real clock the binary runs on).
    pub async fn start(stage: Stage) -> AppViewStandIn {
        let stage = Arc::new(Mutex::new(stage));
        let answer = Answer {
            stage: stage.clone(),
            ends_at: greenlight_escrow::clock::datetime(
                chrono::Utc::now() + chrono::Duration::days(1),
            ),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route(&format!("/xrpc/{}", get_proposal::NSID), get(get_proposal))
            .with_state(answer);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        AppViewStandIn { url, stage }
    }

    /// Moves every proposal to `stage`.
    pub fn set_stage(&self, stage: Stage) {
        *self.stage.lock().unwrap() = stage;
    }
}
