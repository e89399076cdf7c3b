//! Submissions decode strictly: unknown kinds and fields are refused with a message.
#![allow(clippy::unwrap_used)]

use vm31_api::{GetNotesParams, Submission};

#[test]
fn unknown_kinds_and_fields_are_refused() {
    let unknown_kind = r#"{"kind": "teleport", "proof": ""}"#;
    let err = serde_json::from_str::<Submission>(unknown_kind).unwrap_err();
    assert!(err.to_string().contains("teleport"), "{err}");
    let missing = r#"{"kind": "deposit", "proof": "00"}"#;
    assert!(serde_json::from_str::<Submission>(missing).is_err());
    let extra = r#"{"from": 0, "limit": 5, "colour": "blue"}"#;
    let err = serde_json::from_str::<GetNotesParams>(extra).unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn extra_field_in_a_submission_is_refused() {
    let statement = serde_json::json!({
        "amount": 5,
        "asset_id": 0,
        "commitment": [1, 2, 3, 4, 5, 6, 7, 8],
        "ciphertext_hash": [1, 2, 3, 4, 5, 6, 7, 8],
        "external": {
            "recipient": "00".repeat(32),
            "relayer": "00".repeat(32),
            "fee": 0,
            "fee_asset": 0
        }
    });
    let good = serde_json::json!({
        "kind": "deposit",
        "statement": statement,
        "ciphertext": {"ephemeral_key": "00", "body": "00"},
        "proof": "00"
    });
    serde_json::from_value::<Submission>(good.clone()).unwrap();
    let mut extra = good;
    extra["sneaky"] = serde_json::json!(1);
    assert!(serde_json::from_value::<Submission>(extra).is_err());
}
