// The agent's log publisher: answers the leader's log subscriptions with the logs of this node's tasks.
export { DEFAULT_BATCH_LIMITS, LogBatcher, type BatchLimits } from "./batch.js";
export { LocalTasks, hasRun, type LocalTasksEvents } from "./local-tasks.js";
export { LogPublisher, type LogPublisherOptions, type SessionEvents, type WorkerStatuses } from "./publisher.js";
export { SubscriptionPublisher, readOptions, type PublishSink, type SubscriptionPublisherDeps } from "./subscription-publisher.js";
