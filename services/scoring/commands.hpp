// One-shot commands for Kubernetes CronJobs and Indexed Jobs:
//   gabe-scoring train --target T [--as-of D] [--params JSON]
//   gabe-scoring run --target T [--as-of D] [--shard i/N]
#pragma once

namespace gabe::scoring {

// argv[1] is "train" or "run"; returns the exit code (0 done, 1 failed, 2 usage or config).
int run_command(int argc, char** argv);

}  // namespace gabe::scoring
