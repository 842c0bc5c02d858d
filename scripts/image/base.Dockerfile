# A local stand-in for the AWS Lambda Python base image, for building docker/Dockerfile where no registry can be
# reached. The root file system is a Debian minbase made by debootstrap (see scripts/image-test.sh). It offers what
# the project's Dockerfile relies on: Python of the same minor version with pip, LAMBDA_TASK_ROOT=/var/task as the
# working directory, the interpreter under /var/lang/bin first on PATH, and Lambda's library search path.
FROM scratch
ADD rootfs.tar /

ENV LANG=C.UTF-8 \
    TZ=:/etc/localtime \
    LAMBDA_TASK_ROOT=/var/task \
    LAMBDA_RUNTIME_DIR=/var/runtime \
    PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib

# Debian keeps pip out of its system Python; a virtual environment at the Lambda base's interpreter path brings the
# bundled pip, so "python3 -m pip install --target ${LAMBDA_TASK_ROOT}" behaves as on the real base.
RUN python3 -m venv /var/lang \
    && mkdir -p "${LAMBDA_TASK_ROOT}" "${LAMBDA_RUNTIME_DIR}"

WORKDIR /var/task
