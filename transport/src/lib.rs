//! sairing transport: not built yet; see the open issues.
#![deny(missing_docs)]
