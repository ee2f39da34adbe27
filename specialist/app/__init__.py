"""The application: the loop's workers built from the configuration (``builders``), the Ray daemon
(``daemon``), MLflow tracking (``tracking``), serving the champion (``serving``), status, the
daemon's processes and figures. Import the module you need: ``daemon`` imports Ray and
``tracking`` MLflow, which the other modules do not need."""
