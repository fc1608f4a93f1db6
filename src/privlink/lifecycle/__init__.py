"""The lifecycle plan: what `up` and `down` do, as data, and the one executor both targets use.

`facts` (what a target gathers first) -> `build` (`plan_up`, `plan_down`: pure) -> `model`
(`LifecyclePlan`: order, critical path, JSON) -> `execute` (the target's handlers, one per step
kind). `latency` holds the expected times; `placement` decides AZ IDs up front.
"""
