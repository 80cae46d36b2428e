"""The generative tasks: one module per task, one line each below to register it.

``train-vlm --task``, ``globelens eval``, ``globelens ask`` and the server read these; see
``globelens.tasks.base`` for what a task defines and ``docs/development.md`` for adding one.
"""

from globelens.tasks import answer, caption, detect, question, refer, segment
from globelens.tasks.base import (
    TASKS,
    GenerativeTask,
    TargetContext,
    build_target,
    get_task,
    register_task,
    task_names,
    unregister_task,
)

register_task(caption.TASK)
register_task(answer.TASK)
register_task(question.TASK)
register_task(detect.TASK)
register_task(segment.TASK)
register_task(refer.TASK)

__all__ = [
    "TASKS",
    "GenerativeTask",
    "TargetContext",
    "build_target",
    "get_task",
    "register_task",
    "task_names",
    "unregister_task",
]
