//! HTTP/1.x parser (work in progress).
