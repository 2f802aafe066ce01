"""The ``faces`` signal: find faces, align them on 5 landmarks, track them across video
frames and grade each one (size, sharpness, pose) so that only good faces are matched.

Modules: ``models`` (locate and load dlib's model files), ``quality`` (sharpness and pose),
``detector`` (detect + align one picture), ``tracking`` (join detections into tracks),
``embed`` (128-D descriptors, computed only when someone is enrolled), ``signal`` (the
plugin and its JSON).
"""
