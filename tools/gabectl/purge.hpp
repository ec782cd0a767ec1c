// gabectl purge: the inbox retention purge, for a Kubernetes CronJob.
#pragma once

#include <optional>
#include <string>

namespace gabe::ctl {

// Deletes raw inbox events older than `older_than_days` (default GABE_RETENTION_DAYS, 90) in
// batches of GABE_RETENTION_BATCH; prints the counts as one JSON line. Returns the exit code.
int purge(const std::optional<std::string>& older_than_days, const std::string& actor);

}  // namespace gabe::ctl
