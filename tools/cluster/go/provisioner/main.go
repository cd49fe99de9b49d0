// gitspace-provisioner: a dynamic provisioner of node-local volumes for the one-node test cluster.
//
// It runs on the node as a host process with a kubeconfig. For every PersistentVolumeClaim of a StorageClass whose
// provisioner is ours it creates a directory under -root and a `local` PersistentVolume (with node affinity to
// -node) pre-bound to the claim; `local` volumes, unlike hostPath, get the kubelet's fsGroup ownership handling.
// When such a PV is Released and its reclaim policy is Delete it removes the directory and the PV; with Retain it
// keeps both (the data stays until an operator deletes it).
//
// StorageClass parameters (all optional): mode (octal, default 0755), uid and gid (default 0) of the new directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

const (
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
	annSelectedNode  = "volume.kubernetes.io/selected-node"
)

type provisioner struct {
	name, node, root string
	client           kubernetes.Interface
	pvcs             corelisters.PersistentVolumeClaimLister
	pvs              corelisters.PersistentVolumeLister
	classes          storagelisters.StorageClassLister
	warned           map[string]string // claim UID -> last warning sent (one event per distinct error)
}

func main() {
	p := provisioner{warned: map[string]string{}}
	var kubeconfig string
	flag.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	flag.StringVar(&p.name, "provisioner", "gitspace.io/local-volume", "provisioner name (StorageClass .provisioner)")
	flag.StringVar(&p.node, "node", "", "node name the volumes live on")
	flag.StringVar(&p.root, "root", "/var/lib/gitspace-cluster/volumes", "directory holding the volumes")
	resync := flag.Duration("resync", 30*time.Second, "full reconcile period")
	flag.Parse()
	if p.node == "" {
		klog.Fatal("-node is required")
	}
	root, err := filepath.Abs(p.root)
	if err != nil {
		klog.Fatal(err)
	}
	p.root = root
	if err := os.MkdirAll(p.root, 0o711); err != nil {
		klog.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		klog.Fatal(err)
	}
	cfg.UserAgent = "gitspace-provisioner"
	p.client = kubernetes.NewForConfigOrDie(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	factory := informers.NewSharedInformerFactory(p.client, *resync)
	p.pvcs = factory.Core().V1().PersistentVolumeClaims().Lister()
	p.pvs = factory.Core().V1().PersistentVolumes().Lister()
	p.classes = factory.Storage().V1().StorageClasses().Lister()
	kick := make(chan struct{}, 1)
	notify := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		factory.Core().V1().PersistentVolumeClaims().Informer(),
		factory.Core().V1().PersistentVolumes().Informer(),
		factory.Storage().V1().StorageClasses().Informer(),
	} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			klog.Fatal(err)
		}
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	klog.Infof("gitspace-provisioner %s: node %s, volumes under %s", p.name, p.node, p.root)

	ticker := time.NewTicker(*resync)
	defer ticker.Stop()
	for {
		p.reconcile(ctx)
		select {
		case <-ctx.Done():
			klog.Info("stopping")
			return
		case <-kick:
			time.Sleep(200 * time.Millisecond) // coalesce bursts of events
		case <-ticker.C:
		}
	}
}

func (p *provisioner) reconcile(ctx context.Context) {
	claims, err := p.pvcs.List(labels.Everything())
	if err != nil {
		klog.Error(err)
		return
	}
	for _, pvc := range claims {
		if err := p.provision(ctx, pvc); err != nil {
			klog.Errorf("claim %s/%s: %v", pvc.Namespace, pvc.Name, err)
			if p.warned[string(pvc.UID)] != err.Error() {
				p.warned[string(pvc.UID)] = err.Error()
				p.event(ctx, pvc, corev1.EventTypeWarning, "ProvisioningFailed", err.Error())
			}
		}
	}
	volumes, err := p.pvs.List(labels.Everything())
	if err != nil {
		klog.Error(err)
		return
	}
	for _, pv := range volumes {
		if err := p.reclaim(ctx, pv); err != nil {
			klog.Errorf("volume %s: %v", pv.Name, err)
		}
	}
}

func (p *provisioner) classOf(pvc *corev1.PersistentVolumeClaim) (*storagev1.StorageClass, bool) {
	name := ""
	if pvc.Spec.StorageClassName != nil {
		name = *pvc.Spec.StorageClassName
	}
	if name == "" {
		return nil, false // the DefaultStorageClass admission plugin fills it in for claims that want the default
	}
	sc, err := p.classes.Get(name)
	if err != nil || sc.Provisioner != p.name {
		return nil, false
	}
	return sc, true
}

func (p *provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
		return nil
	}
	sc, ok := p.classOf(pvc)
	if !ok {
		return nil
	}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		node, chosen := pvc.Annotations[annSelectedNode]
		if !chosen {
			return nil // the scheduler picks the node when a pod uses the claim
		}
		if node != p.node {
			return nil
		}
	}
	if pvc.Spec.Selector != nil {
		return fmt.Errorf("claims with a selector are not supported")
	}
	if pvc.Spec.DataSource != nil || pvc.Spec.DataSourceRef != nil {
		return fmt.Errorf("claims with a data source are not supported")
	}
	pvName := "pvc-" + string(pvc.UID)
	if _, err := p.pvs.Get(pvName); err == nil {
		return nil // created already; the PV controller binds it
	}
	if pv, err := p.client.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{}); err == nil && pv != nil {
		return nil
	}

	mode, uid, gid := os.FileMode(0o755), 0, 0
	if v, ok := sc.Parameters["mode"]; ok {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("StorageClass %s: bad mode %q", sc.Name, v)
		}
		mode = os.FileMode(m)
	}
	for key, dst := range map[string]*int{"uid": &uid, "gid": &gid} {
		if v, ok := sc.Parameters[key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("StorageClass %s: bad %s %q", sc.Name, key, v)
			}
			*dst = n
		}
	}
	for key := range sc.Parameters {
		if key != "mode" && key != "uid" && key != "gid" {
			return fmt.Errorf("StorageClass %s: unknown parameter %q", sc.Name, key)
		}
	}

	dir := filepath.Join(p.root, fmt.Sprintf("%s_%s_%s", pvc.Namespace, pvc.Name, pvName))
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(dir, mode|modeBits(mode)); err != nil {
		return err
	}

	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	volumeMode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		return fmt.Errorf("volumeMode %s is not supported", *pvc.Spec.VolumeMode)
	}
	capacity := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        pvName,
			Annotations: map[string]string{annProvisionedBy: p.name},
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "gitspace-provisioner"},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: capacity},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              sc.Name,
			VolumeMode:                    &volumeMode,
			MountOptions:                  sc.MountOptions,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{p.node},
				}}}},
			}},
		},
	}
	if _, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	klog.Infof("claim %s/%s: created %s at %s (%s, %s)", pvc.Namespace, pvc.Name, pvName, dir, capacity.String(), reclaim)
	p.event(ctx, pvc, corev1.EventTypeNormal, "ProvisioningSucceeded",
		fmt.Sprintf("provisioned volume %s at %s:%s", pvName, p.node, dir))
	return nil
}

// modeBits maps the permission bits of a FileMode and its setuid/setgid/sticky bits (octal 7000) to os.FileMode.
func modeBits(m os.FileMode) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func (p *provisioner) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != p.name || pv.DeletionTimestamp != nil {
		return nil
	}
	if pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if pv.Spec.Local == nil {
		return nil
	}
	dir := filepath.Clean(pv.Spec.Local.Path)
	if filepath.Dir(dir) != p.root || !strings.HasSuffix(filepath.Base(dir), "_"+pv.Name) {
		return fmt.Errorf("refusing to delete %s: not a volume directory of ours", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	klog.Infof("volume %s released: deleted %s and the PV", pv.Name, dir)
	return nil
}

func (p *provisioner) event(ctx context.Context, pvc *corev1.PersistentVolumeClaim, typ, reason, msg string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pvc.Name + ".", Namespace: pvc.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name,
			UID: pvc.UID, ResourceVersion: pvc.ResourceVersion,
		},
		Reason: reason, Message: msg, Type: typ, Count: 1, FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "gitspace-provisioner", Host: p.node},
	}
	if _, err := p.client.CoreV1().Events(pvc.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		klog.V(2).Infof("event: %v", err)
	}
}
