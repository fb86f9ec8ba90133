//! Renderers of one typed report: [`text`] for the terminal, [`json`] for tools,
//! [`html`] to attach to a support case, [`markdown`] to paste into one; plus
//! what spans several reports: a batch's [`summary`] and the [`diff`] of two.
//! [`redact`] rewrites a report before any of them, for reports that leave the company.

pub mod diff;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
pub mod redact;
pub mod summary;
pub mod text;
