//! capdoc: reads packet captures taken on or near a Microsoft Entra private
//! network connector and explains why it cannot reach the cloud.
//!
//! The modules follow a packet: [`capture`] (files to frames) → [`decode`]
//! (frames to IP/TCP/UDP views) → [`flow`] (TCP connections) → [`diagnose`]
//! (attempts, outcomes, findings) → [`report`] (text, JSON, HTML, Markdown).
//! [`pass`] runs the first three over a capture, on one thread or two;
//! [`batch`] runs many captures at once.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod batch;
pub mod capture;
pub mod decode;
pub mod diagnose;
pub mod endpoints;
pub mod flow;
pub mod pass;
pub mod proto;
pub mod report;
pub mod shared;
pub mod untrusted;
