package executor_test

import (
	"testing"

	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
)

// The variables a provider sets for each task of a job array pass the
// exec executor's environment policy without the owner listing them, and
// are the job package's names.
func TestExecEnvAllowsTaskIndex(t *testing.T) {
	t.Parallel()
	if executor.TaskIndexEnv != job.TaskIndexEnv || executor.TaskCountEnv != job.TaskCountEnv {
		t.Fatalf("executor names %s, %s; job names %s, %s", executor.TaskIndexEnv, executor.TaskCountEnv, job.TaskIndexEnv, job.TaskCountEnv)
	}
	e := newExec(t, []string{"/bin/sh"})
	task := sh(`echo "task $COMPUTEMESH_TASK_INDEX of $COMPUTEMESH_TASK_COUNT"`)
	task.Env = job.TaskEnv(nil, 3, 8)
	res := execRun(t, e, task)
	execWantExit(t, res, 0)
	if string(res.Stdout) != "task 3 of 8\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
}
