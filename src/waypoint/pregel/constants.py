"""Reserved node and channel names shared by the builder and the engine."""

from __future__ import annotations

from typing import Final

START: Final = "__start__"
END: Final = "__end__"

# channels the engine owns
TASKS: Final = "__pregel_tasks"  # Topic of Send packets for the next step
NO_WRITES: Final = "__no_writes__"  # marks a task that finished without writing anything
INTERRUPT_SEEN: Final = "__interrupt__"  # versions_seen key recording the last static interrupt
NULL_TASK_ID: Final = "00000000-0000-0000-0000-000000000000"  # writes made by the caller
RETURN: Final = "__return__"  # a called task's return value (a pending write, not a channel)
PREVIOUS: Final = "__previous__"  # the functional API's saved value (``previous``)

# task path prefixes
PULL: Final = "__pregel_pull"
PUSH: Final = "__pregel_push"

# checkpoint namespace separators: "<node>:<task_id>|<node>:<task_id>"
NS_SEP: Final = "|"
NS_END: Final = ":"

# keys inside config["configurable"] the engine uses to pass context down to subgraphs
CONF: Final = "configurable"
K_CHECKPOINTER: Final = "__wp_checkpointer"
K_STORE: Final = "__wp_store"
K_CHECKPOINT_MAP: Final = "checkpoint_map"
K_RESUME_MAP: Final = "__wp_resume_map"
K_RESUMING: Final = "__wp_resuming"
K_STREAM: Final = "__wp_stream"
K_DURABILITY: Final = "__wp_durability"
K_PARENT: Final = "__wp_parent"
K_CONTROL: Final = "__wp_control"  # the run's RunControl (``invoke(..., control=...)``)
K_CONTEXT: Final = "__wp_context"  # the run's Runtime.context (``invoke(..., context=...)``)
K_REPLAY: Final = "__wp_replay"  # ReplayBound shared by the subgraphs of a replaying run
K_TARGETS: Final = "__wp_targets"  # subgraph checkpoints a root replay was addressed to
K_NULL_RESUME: Final = "__wp_null_resume"  # NullResume shared by the subgraphs of a run
K_RESUME_STEP: Final = "__wp_resume_step"  # the parent is in the first step of a resumed run

DEFAULT_RECURSION_LIMIT: Final = 25
RESERVED_NAMES: Final = frozenset({START, END, TASKS, NO_WRITES, INTERRUPT_SEEN})
