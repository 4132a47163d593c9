// Package river runs the service's periodic maintenance as River jobs: the
// River leader (one process of the deployment at a time) schedules each
// round, and one worker process runs it. Deliveries themselves are not
// River jobs: they are rows the worker processes claim (adapters/worker).
package river
