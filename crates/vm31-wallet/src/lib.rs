//! The client side of a vm31 shielded pool: everything a wallet keeps between runs.
