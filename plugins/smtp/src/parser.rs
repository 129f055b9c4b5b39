//! SMTP parser (work in progress).
