"""Step flows: one engine (``flows/engine.py``) and one flow per floor task; no Textual here.

A flow is steps with prompts, handlers per step and what its draft saves.  A new one::

    from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome

    class CountFlow(Flow):
        KIND, TASK_ID, TITLE = "count", "count", "Count"        # draft kind, binding ids "count.*"
        FIRST_STEP = "bin"
        STEPS = {"bin": "Scan the bin", "item": "Scan an item in {bin}"}
        ACTIONS = (FlowAction("f10", "confirm", "Post"), FlowAction("ctrl+z", "undo", "Undo"),
                   FlowAction("escape", "cancel", "Back"))
        def scan_bin(self, resolution, text) -> Outcome:        # scan_<step>; typed_<step> too
            return Outcome(f"bin {resolution.location_code}", next="item")
        def confirm(self) -> Outcome: ...                       # each ACTIONS command
        def snapshot(self) / restore(snapshot) / payload() / draft_ref() / resume()
        def lines(self) / remove_line(index) / view_body() / prompt_fields() / on_change(change)

Helpers from the engine: ``self.hold(refusal, retry)`` (manager badge + PIN, site lockout policy),
``self.armed(command)`` (press again), undo and the draft save after every step are automatic.
Drive it without a screen: ``flow.start(); flow.scan(text); flow.typed(text); flow.command("confirm")``.
Show it: ``class CountScreen(FlowScreen): FLOW = CountFlow`` (``screens/flow.py``) and register the task.
"""
