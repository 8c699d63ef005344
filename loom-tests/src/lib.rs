//! loom models of the ring: see tests/.
#![deny(missing_docs)]
