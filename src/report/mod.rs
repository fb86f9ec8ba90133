//! Renderers of one typed report: [`text`] for people, [`json`] for tools.

pub mod json;
pub mod model;
pub mod text;
