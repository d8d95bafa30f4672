"""The app's server side: sessions, their runs and uploads, the gradio plumbing, ZeroGPU."""
