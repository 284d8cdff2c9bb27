//! sessionbench's results model and its renderers (terminal tables, Markdown, JSON, JUnit,
//! HTML). It knows nothing about processes or HTTP: it turns checked results into text.
