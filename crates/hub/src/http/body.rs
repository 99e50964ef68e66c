//! A JSON body extractor whose rejections are `{code, detail}` like every other error.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::ApiError;

/// `Json<T>`, but a malformed or mistyped body is a 400/415/422 `{code, detail}` naming
/// what is wrong, never axum's plain-text rejection.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                    "send the body as JSON with Content-Type: application/json".to_owned(),
                ),
                JsonRejection::JsonDataError(e) => ApiError::Unprocessable {
                    code: "invalid_body",
                    detail: e.body_text(),
                },
                other => ApiError::InvalidBody(other.body_text()),
            }),
        }
    }
}
