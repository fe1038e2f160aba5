"""The panels of a model's tab. Each is a widget that subscribes to the tab's `Document`:
it redraws from the document's events and turns the user's clicks into the document's
methods. None calls another; `app.ui.document.ModelView` only lays them out."""
