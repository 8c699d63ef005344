//! Ring records as `sairedis.rec` lines, for `dump` and `tail`.

use sairing_rec as rec;
use sairing_transport::codec::{self, KIND_NOTIFICATION, KIND_REQUEST, KIND_RESPONSE};

/// A record as recording lines (a response that sairedis would not record,
/// a plain success, gives none).
pub fn record_lines(kind: u16, seq: u64, payload: &[u8], ts: &str) -> Vec<String> {
    match kind {
        KIND_REQUEST => match codec::decode_request(payload, seq) {
            Ok(r) => vec![rec::request_line(ts, &r)],
            Err(e) => vec![format!("{ts}|#|{e}")],
        },
        KIND_RESPONSE => match codec::decode_response(payload, seq) {
            Ok(r) => rec::response_line(ts, r.op, r.status, r.attrs.clone(), &r.statuses)
                .into_iter()
                .collect(),
            Err(e) => vec![format!("{ts}|#|{e}")],
        },
        KIND_NOTIFICATION => match codec::decode_notification(payload, seq) {
            Ok(n) => vec![rec::notification_line(ts, n.name, n.payload)],
            Err(e) => vec![format!("{ts}|#|{e}")],
        },
        k => vec![format!("{ts}|#|record {seq} has unknown kind {k}")],
    }
}
