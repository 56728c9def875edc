"""PromQL both dashboards share, in the same terms as the alert rules."""

from __future__ import annotations

from dashboards.panels import metric

SIZE = metric("filesystem_size_bytes")
FREE = metric("filesystem_free_bytes")
AVAIL = metric("filesystem_avail_bytes")

# Used share as df shows it, and as the alerts judge it: used / (used + avail),
# used = size - free (the root reserve is neither used nor available).
DISK_USED_PERCENT = f"100 * ({SIZE} - {FREE}) / ({SIZE} - {FREE} + {AVAIL} > 0)"

# The same share in 24 hours if the last 6 hours' trend of available bytes
# goes on (node-mixin's predict_linear, as the fill-up alerts use it).
DISK_USED_PERCENT_FORECAST = (
    f"100 * (1 - predict_linear({AVAIL}[6h], 24 * 3600) / ({SIZE} - {FREE} + {AVAIL} > 0))"
)

INODES_FREE_PERCENT = (
    f"100 * {metric('filesystem_files_free')} / ({metric('filesystem_files')} > 0)"
)

CERT_DAYS_LEFT = f"({metric('cert_not_after_timestamp_seconds')} - time()) / 86400"

SYNC_SUCCESS_AGE = f"time() - {metric('sync_last_success_timestamp_seconds')}"

# rsync's exit code 24 ("some files vanished") is normal on a live registry.
SYNC_FAILED = f"{metric('sync_last_exit_code')} != 0 and {metric('sync_last_exit_code')} != 24"

# Each start moves the start time (systemd's realtime ActiveEnterTimestamp, the
# same value on every run otherwise), as the flapping alert counts them.
SERVICE_STARTS = f"changes({metric('service_start_time_seconds')}[$__rate_interval])"
SERVICE_RESTARTS = f"increase({metric('service_restarts_total')}[$__rate_interval])"


def cert_row(expr: str) -> str:
    """expr with the certificate's subject, issuer, serial and fingerprint as labels."""
    return (
        f"({expr}) * on (job, cluster, instance, source, target) "
        f"group_left (subject, issuer, serial, fingerprint_sha256) {metric('cert_info')}"
    )


# cert_served_matches_file has only `target` (the served one): label it as the
# served row so it lines up with the other columns of the certificate table.
CERT_MATCHES_FILE = (
    f'label_replace({metric("cert_served_matches_file")}, "source", "served", "", "")'
)
