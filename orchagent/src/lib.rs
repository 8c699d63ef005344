//! sairing orchagent: not built yet; see the open issues.
#![deny(missing_docs)]
